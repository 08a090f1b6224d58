// The libcbor backend of `CBORDecoder`: libcbor's streaming decoder reads one head per call and reports it through
// callbacks; this parser turns those reports into `CBORValue`s on an explicit stack (no recursion, so hostile nesting
// cannot overflow the call stack) and enforces the limits as each head arrives, before anything is built from it.
internal import CCBOR

final class CBORStreamParser {
    private let input: UnsafeRawBufferPointer
    private let limits: CBORLimits
    private let allowsDuplicateMapKeys: Bool
    /// Where the head being decoded starts.
    private var offset = 0
    // Only this parser's own methods touch the stack, never across a call that could touch it again.
    @exclusivity(unchecked) private var stack: [Frame] = []
    private var itemCount = 0
    private var result: CBORValue?
    /// The error a callback raised; callbacks cannot throw through C, so the parse loop rethrows it.
    private var failure: CBORError?

    init(input: UnsafeRawBufferPointer, limits: CBORLimits, allowsDuplicateMapKeys: Bool) {
        self.input = input
        self.limits = limits
        self.allowsDuplicateMapKeys = allowsDuplicateMapKeys
    }

    /// Decodes the item at the start of the input, returning it and the number of bytes it spans.
    func parse() throws(CBORError) -> (value: CBORValue, byteCount: Int) {
        guard input.count <= limits.maximumInputSize else {
            throw CBORError(
                .sizeLimitExceeded,
                "input of \(input.count) bytes exceeds the limit of \(limits.maximumInputSize)",
                offset: 0
            )
        }
        guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self), !input.isEmpty else {
            throw CBORError(.truncated, "input is empty", offset: 0)
        }
        var callbacks = streamCallbacks
        let context = Unmanaged.passUnretained(self).toOpaque()
        while true {
            if let result { return (result, offset) }
            guard offset < input.count else { throw endOfInputInsideItem() }
            let initial = base[offset]
            let consumed: Int
            switch initial {
            // libcbor 0.8's streaming decoder reports these well-formed heads as errors (it treats tags 6-20 and
            // the unassigned simple values as invalid), so they are read here; COSE_Sign1's tag 18 is among them.
            case 0xc6...0xd4:
                try openTag(UInt64(initial - 0xc0))
                consumed = 1
            case 0xe0...0xf3:
                try addScalar(.simple(initial - 0xe0))
                consumed = 1
            case 0xf8:
                guard offset + 1 < input.count else {
                    throw CBORError(.truncated, "simple value head needs 2 bytes, 1 remains", offset: offset)
                }
                let value = base[offset + 1]
                guard value >= 32 else {
                    throw CBORError(
                        .malformed,
                        "simple value \(value) in the two-byte form 0xf8 (RFC 8949 §3.3 allows only 32-255)",
                        offset: offset
                    )
                }
                try addScalar(.simple(value))
                consumed = 2
            default:
                let decoded = cbor_stream_decode(base + offset, input.count - offset, &callbacks, context)
                if let failure { throw failure }
                switch decoded.status {
                case CBOR_DECODER_FINISHED: consumed = decoded.read
                case CBOR_DECODER_NEDATA: throw truncation(at: base)
                default: throw malformedHead(initial)
                }
            }
            offset += consumed
        }
    }

    // MARK: Items reported by the callbacks

    private func addScalar(_ value: CBORValue) throws(CBORError) {
        try countItem()
        try rejectInsideChunkedString()
        try complete(value)
    }

    private func addByteString(_ bytes: UnsafeBufferPointer<UInt8>) throws(CBORError) {
        try countItem()
        if let top = stack.indices.last, stack[top].kind == .byteChunks {
            stack[top].chunks.append(contentsOf: bytes)
            return
        }
        try rejectInsideChunkedString()
        try complete(.bytes(Array(bytes)))
    }

    private func addTextString(_ bytes: UnsafeBufferPointer<UInt8>) throws(CBORError) {
        try countItem()
        // ASCII (most keys and claims) is valid UTF-8 as it stands; only other text needs the full validation.
        let isASCII = bytes.allSatisfy { $0 < 0x80 }
        guard let text = isASCII ? String(decoding: bytes, as: UTF8.self) : String(validating: bytes, as: UTF8.self)
        else {
            throw CBORError(.invalidUTF8, "text string of \(bytes.count) bytes is not valid UTF-8", offset: offset)
        }
        if let top = stack.indices.last, stack[top].kind == .textChunks {
            stack[top].chunks.append(contentsOf: bytes)
            return
        }
        try rejectInsideChunkedString()
        try complete(.text(text))
    }

    private func openChunkedString(_ kind: Frame.Kind) throws(CBORError) {
        try countItem()
        try rejectInsideChunkedString()
        try push(Frame(kind: kind, offset: offset, remaining: nil))
    }

    private func openArray(count: Int?) throws(CBORError) {
        try countItem()
        try rejectInsideChunkedString()
        if let count {
            try requireAvailable(count, minimumBytesEach: 1, "array")
            if count == 0 { return try complete(.array([])) }
        }
        var frame = Frame(kind: .array, offset: offset, remaining: count)
        frame.elements.reserveCapacity(min(count ?? 0, Self.reservationCap))
        try push(frame)
    }

    private func openMap(count: Int?) throws(CBORError) {
        try countItem()
        try rejectInsideChunkedString()
        if let count {
            try requireAvailable(count, minimumBytesEach: 2, "map")
            if count == 0 { return try complete(.map([])) }
        }
        var frame = Frame(kind: .map, offset: offset, remaining: count)
        frame.entries.reserveCapacity(min(count ?? 0, Self.reservationCap))
        try push(frame)
    }

    private func openTag(_ number: UInt64) throws(CBORError) {
        try countItem()
        try rejectInsideChunkedString()
        try push(Frame(kind: .tag(number), offset: offset, remaining: 1))
    }

    private func closeIndefinite() throws(CBORError) {
        guard let top = stack.last, top.remaining == nil else {
            throw CBORError(.malformed, "break (0xff) outside an indefinite-length item", offset: offset)
        }
        let frame = stack.removeLast()
        switch frame.kind {
        case .array:
            try complete(.array(frame.elements))
        case .map:
            guard frame.pendingKey == nil else {
                throw CBORError(.malformed, "indefinite-length map ends after a key with no value", offset: offset)
            }
            try checkDuplicateKeys(frame.entries, mapOffset: frame.offset)
            try complete(.map(frame.entries))
        case .byteChunks:
            try complete(.bytes(frame.chunks))
        case .textChunks:
            // Every chunk was validated on arrival, so the concatenation is valid UTF-8.
            try complete(.text(String(decoding: frame.chunks, as: UTF8.self)))
        case .tag:
            preconditionFailure("tag frames always expect exactly one item")
        }
    }

    // MARK: Building

    /// Hands a finished item to the innermost open container, closing every container it completes.
    private func complete(_ item: CBORValue) throws(CBORError) {
        var item = item
        while let top = stack.indices.last {
            switch stack[top].kind {
            case .array:
                stack[top].elements.append(item)
                guard stack[top].countDown() else { return }
                item = .array(stack.removeLast().elements)
            case .map:
                guard let key = stack[top].pendingKey else {
                    stack[top].pendingKey = item
                    return
                }
                stack[top].entries.append(CBORMapEntry(key, item))
                stack[top].pendingKey = nil
                guard stack[top].countDown() else { return }
                let frame = stack.removeLast()
                try checkDuplicateKeys(frame.entries, mapOffset: frame.offset)
                item = .map(frame.entries)
            case .tag(let number):
                stack.removeLast()
                item = .tagged(number, item)
            case .byteChunks, .textChunks:
                preconditionFailure("items inside chunked strings are rejected before they complete")
            }
        }
        result = item
    }

    private func push(_ frame: Frame) throws(CBORError) {
        guard stack.count < limits.maximumDepth else {
            throw CBORError(
                .depthLimitExceeded,
                "items nest deeper than the limit of \(limits.maximumDepth)",
                offset: offset
            )
        }
        stack.append(frame)
    }

    private func countItem() throws(CBORError) {
        itemCount += 1
        guard itemCount <= limits.maximumItemCount else {
            throw CBORError(
                .itemLimitExceeded,
                "input holds more than the limit of \(limits.maximumItemCount) data items",
                offset: offset
            )
        }
    }

    private func rejectInsideChunkedString() throws(CBORError) {
        guard let kind = stack.last?.kind, kind == .byteChunks || kind == .textChunks else { return }
        throw CBORError(
            .malformed,
            "an indefinite-length \(kind == .byteChunks ? "byte" : "text") string may hold only definite-length "
                + "strings of its own type (RFC 8949 §3.2.3)",
            offset: offset
        )
    }

    /// Rejects a definite-length container whose declared size cannot fit in the bytes left, before reserving.
    private func requireAvailable(_ count: Int, minimumBytesEach: Int, _ what: String) throws(CBORError) {
        let available = input.count - offset - headLength(input[offset])
        // libcbor passes lengths as size_t; a length of 2^63 or more arrives negative.
        guard count >= 0, count <= available / minimumBytesEach else {
            let declared = count >= 0 ? "\(count)" : "\(UInt64(bitPattern: Int64(count)))"
            throw CBORError(
                .truncated,
                "\(what) declares \(declared) items but only \(available) bytes remain",
                offset: offset
            )
        }
    }

    private func checkDuplicateKeys(_ entries: [CBORMapEntry], mapOffset: Int) throws(CBORError) {
        guard !allowsDuplicateMapKeys, entries.count > 1 else { return }
        var duplicate: CBORValue?
        if entries.contains(where: { Self.holdsMap($0.key) }) {
            // The data model's maps are unordered, so {1: 0, 0: 0} and {0: 0, 1: 0} are one key (RFC 8949 §5.6),
            // which `==` (entry by entry, in order) tells apart: such keys compare by their deterministic encoding,
            // which is equal exactly when the values are. Every key here decoded, so every key encodes.
            var seen = Set<[UInt8]>(minimumCapacity: entries.count)
            duplicate = entries.first { !seen.insert((try? $0.key.encoded()) ?? []).inserted }?.key
        } else if entries.count <= 16 {
            // Pairs are told apart by a fingerprint of each key first; only keys whose fingerprints agree are
            // compared in full.
            let fingerprints = entries.map { Self.fingerprint($0.key) }
            search: for index in entries.indices.dropFirst() {
                for earlier in 0..<index
                where fingerprints[earlier] == fingerprints[index] && entries[earlier].key == entries[index].key {
                    duplicate = entries[index].key
                    break search
                }
            }
        } else {
            var seen = Set<CBORValue>(minimumCapacity: entries.count)
            duplicate = entries.first { !seen.insert($0.key).inserted }?.key
        }
        if let duplicate {
            throw CBORError(.duplicateMapKey, "map holds the key \(duplicate) more than once", offset: mapOffset)
        }
    }

    /// True when `key` is a map or holds one (in an array or a tag).
    private static func holdsMap(_ key: CBORValue) -> Bool {
        switch key {
        case .map: true
        case .array(let items): items.contains(where: holdsMap)
        case .tagged(_, let value): holdsMap(value)
        default: false
        }
    }

    /// A 64-bit fingerprint of a map key (FNV-1a over a string's bytes): equal keys have equal fingerprints. Keys
    /// of other kinds all share 0, so they are always compared in full.
    private static func fingerprint(_ key: CBORValue) -> UInt64 {
        func fnv(_ seed: UInt64, _ bytes: some Sequence<UInt8>) -> UInt64 {
            bytes.reduce(0xcbf2_9ce4_8422_2325 ^ seed) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01b3 }
        }
        switch key {
        case .unsigned(let value): return value &* 0x9e37_79b9_7f4a_7c15 &+ 1
        case .negative(let value): return value &* 0x9e37_79b9_7f4a_7c15 &+ 2
        case .text(let text): return fnv(3, text.utf8)
        case .bytes(let bytes): return fnv(4, bytes)
        default: return 0
        }
    }

    // MARK: Errors

    private func truncation(at base: UnsafePointer<UInt8>) -> CBORError {
        let initial = base[offset]
        let available = input.count - offset
        let length = headLength(initial)
        guard length <= available else {
            return CBORError(
                .truncated,
                "head 0x\(String(initial, radix: 16)) needs \(length) bytes, only \(available) remain",
                offset: offset
            )
        }
        var argument: UInt64 = 0
        for index in 1..<length { argument = argument << 8 | UInt64(base[offset + index]) }
        let what = initial >> 5 == 2 ? "byte string" : "text string"
        return CBORError(
            .truncated,
            "\(what) declares \(argument) bytes but only \(available - length) remain",
            offset: offset
        )
    }

    private func endOfInputInsideItem() -> CBORError {
        let open = stack.last.map { "the \($0.kind.name) that starts at byte \($0.offset)" } ?? "the top-level item"
        return CBORError(.truncated, "input ends inside \(open)", offset: input.count)
    }

    private func malformedHead(_ initial: UInt8) -> CBORError {
        let info = initial & 0x1f
        let hex = "0x" + String(initial, radix: 16)
        let reason =
            switch info {
            case 28...30: "initial byte \(hex) uses reserved additional information \(info)"
            case 31: "major type \(initial >> 5) has no indefinite-length form (initial byte \(hex))"
            default: "libcbor rejected initial byte \(hex)"
            }
        return CBORError(.malformed, reason, offset: offset)
    }

    /// Containers reserve at most this many slots up front; larger ones grow as their items actually arrive.
    private static let reservationCap = 1024
}

/// The total size of a head (initial byte plus argument) given its initial byte.
private func headLength(_ initial: UInt8) -> Int {
    switch initial & 0x1f {
    case 24: 2
    case 25: 3
    case 26: 5
    case 27: 9
    default: 1
    }
}

/// One open container, tag or chunked string.
private struct Frame {
    enum Kind: Equatable {
        case array, map, tag(UInt64), byteChunks, textChunks

        var name: String {
            switch self {
            case .array: "array"
            case .map: "map"
            case .tag(let number): "tag \(number)"
            case .byteChunks: "indefinite-length byte string"
            case .textChunks: "indefinite-length text string"
            }
        }
    }

    let kind: Kind
    let offset: Int
    /// Items (for maps, entries) still expected; nil for an indefinite-length item, which ends at a break.
    var remaining: Int?
    var elements: [CBORValue] = []
    var entries: [CBORMapEntry] = []
    var pendingKey: CBORValue?
    var chunks: [UInt8] = []

    init(kind: Kind, offset: Int, remaining: Int?) {
        self.kind = kind
        self.offset = offset
        self.remaining = remaining
    }

    /// Records one more item; true when a definite-length frame is now complete.
    mutating func countDown() -> Bool {
        guard let count = remaining else { return false }
        remaining = count - 1
        return count == 1
    }
}

// MARK: libcbor callbacks

/// What one libcbor callback reported.
private enum StreamEvent {
    case scalar(CBORValue)
    case byteString(UnsafeBufferPointer<UInt8>)
    case textString(UnsafeBufferPointer<UInt8>)
    case chunkedString(Frame.Kind)
    case array(count: Int?)
    case map(count: Int?)
    case tag(UInt64)
    case indefiniteBreak
}

extension CBORStreamParser {
    /// Applies one callback's report, keeping the first error for the parse loop to throw.
    fileprivate func report(_ event: StreamEvent) {
        do {
            switch event {
            case .scalar(let value): try addScalar(value)
            case .byteString(let bytes): try addByteString(bytes)
            case .textString(let bytes): try addTextString(bytes)
            case .chunkedString(let kind): try openChunkedString(kind)
            case .array(let count): try openArray(count: count)
            case .map(let count): try openMap(count: count)
            case .tag(let number): try openTag(number)
            case .indefiniteBreak: try closeIndefinite()
            }
        } catch {
            failure = error
        }
    }
}

private func parser(_ context: UnsafeMutableRawPointer?) -> CBORStreamParser {
    // The context is always the parser that passed itself to cbor_stream_decode.
    Unmanaged<CBORStreamParser>.fromOpaque(context!).takeUnretainedValue()
}

private let streamCallbacks: cbor_callbacks = {
    var callbacks = cbor_empty_callbacks
    callbacks.uint8 = { parser($0).report(.scalar(.unsigned(UInt64($1)))) }
    callbacks.uint16 = { parser($0).report(.scalar(.unsigned(UInt64($1)))) }
    callbacks.uint32 = { parser($0).report(.scalar(.unsigned(UInt64($1)))) }
    callbacks.uint64 = { parser($0).report(.scalar(.unsigned($1))) }
    callbacks.negint8 = { parser($0).report(.scalar(.negative(UInt64($1)))) }
    callbacks.negint16 = { parser($0).report(.scalar(.negative(UInt64($1)))) }
    callbacks.negint32 = { parser($0).report(.scalar(.negative(UInt64($1)))) }
    callbacks.negint64 = { parser($0).report(.scalar(.negative($1))) }
    // libcbor names the definite-length string callbacks `byte_string`/`string` and the indefinite-length
    // openers `byte_string_start`/`string_start`.
    callbacks.byte_string = { parser($0).report(.byteString(UnsafeBufferPointer(start: $1, count: $2))) }
    callbacks.byte_string_start = { parser($0).report(.chunkedString(.byteChunks)) }
    callbacks.string = { parser($0).report(.textString(UnsafeBufferPointer(start: $1, count: $2))) }
    callbacks.string_start = { parser($0).report(.chunkedString(.textChunks)) }
    callbacks.array_start = { parser($0).report(.array(count: $1)) }
    callbacks.indef_array_start = { parser($0).report(.array(count: nil)) }
    callbacks.map_start = { parser($0).report(.map(count: $1)) }
    callbacks.indef_map_start = { parser($0).report(.map(count: nil)) }
    callbacks.tag = { parser($0).report(.tag($1)) }
    callbacks.float2 = { parser($0).report(.scalar(.float(Double($1)))) }
    callbacks.float4 = { parser($0).report(.scalar(.float(Double($1)))) }
    callbacks.float8 = { parser($0).report(.scalar(.float($1))) }
    callbacks.boolean = { parser($0).report(.scalar(.bool($1))) }
    callbacks.null = { parser($0).report(.scalar(.null)) }
    callbacks.undefined = { parser($0).report(.scalar(.undefined)) }
    callbacks.indef_break = { parser($0).report(.indefiniteBreak) }
    return callbacks
}()
