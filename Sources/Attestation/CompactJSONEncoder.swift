import FoundationEssentials

/// Encodes `Encodable` values as compact JSON (RFC 8259) straight into one byte buffer, for the service's hot paths
/// (attestation results, EAR claims): Foundation's `JSONEncoder` builds a tree of boxed values first, which costs
/// as much as the appraisal it reports. Slashes are not escaped; dates are ISO 8601 (UTC, whole seconds); non-finite
/// numbers are refused. With `sortedKeys`, every object's members come out in key order (byte-wise), as
/// `JSONEncoder`'s `.sortedKeys` does, so dictionaries encode the same every time.
public struct CompactJSONEncoder: Sendable {
    public var sortedKeys: Bool

    public init(sortedKeys: Bool = false) {
        self.sortedKeys = sortedKeys
    }

    public func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONStream(sortedKeys: sortedKeys)
        try encoder.encodeValue(value)
        return encoder.output
    }
}

/// The encoder behind `CompactJSONEncoder`: containers write into `output` as they are used; each open object or
/// array is a frame, closed when the value that opened it is done or a container below it writes again.
private final class JSONStream: Encoder {
    struct Frame {
        let isObject: Bool
        var count = 0
        /// Where this object's members start in `members`.
        let firstMember: Int
        /// Whether every key so far came after the one before it (then closing the object moves nothing).
        var inOrder = true
    }

    /// One object member in `output`: its key as written (quoted, escaped), whether that has escapes, and where
    /// the member ends.
    struct Member {
        var key: Range<Int>
        var escaped: Bool
        var end: Int
        var bytes: Range<Int> { key.lowerBound..<end }
    }

    // Every container writes through these; none holds an access across a call into another, so the runtime's
    // exclusivity checks (a third of the encoder's time when measured) are left out.
    @exclusivity(unchecked) var output: [UInt8] = []
    @exclusivity(unchecked) var frames: [Frame] = []
    /// The members of every open object, innermost last; kept only when sorting keys.
    @exclusivity(unchecked) var members: [Member] = []
    let sortedKeys: Bool
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(sortedKeys: Bool) {
        self.sortedKeys = sortedKeys
        output.reserveCapacity(8192)
    }

    // MARK: Values

    func encodeValue<T: Encodable>(_ value: T) throws {
        // Scalars are told apart by comparing metatypes, which costs a pointer comparison where `as?` casts cost a
        // runtime search; a struct or enum (most values) would otherwise fail ten casts before it is encoded.
        if T.self == String.self {
            writeString(unsafeBitCast(value, to: String.self))
        } else if T.self == Bool.self {
            writeBool(unsafeBitCast(value, to: Bool.self))
        } else if T.self == Int.self {
            writeInteger(unsafeBitCast(value, to: Int.self))
        } else if T.self == UInt64.self {
            writeInteger(unsafeBitCast(value, to: UInt64.self))
        } else if T.self == Int64.self {
            writeInteger(unsafeBitCast(value, to: Int64.self))
        } else if T.self == UInt32.self {
            writeInteger(unsafeBitCast(value, to: UInt32.self))
        } else if T.self == UInt16.self {
            writeInteger(unsafeBitCast(value, to: UInt16.self))
        } else if T.self == UInt8.self {
            writeInteger(unsafeBitCast(value, to: UInt8.self))
        } else if T.self == Double.self {
            try writeNumber(unsafeBitCast(value, to: Double.self))
        } else if T.self == Date.self {
            writeString(unsafeBitCast(value, to: Date.self).formatted(.iso8601))
        } else {
            let depth = frames.count
            let start = output.count
            try value.encode(to: self)
            close(downTo: depth)
            // A value that wrote nothing at all encodes as an empty object, as JSONEncoder's does.
            if output.count == start { output += [UInt8(ascii: "{"), UInt8(ascii: "}")] }
        }
    }

    func writeNumber(_ number: Double) throws {
        guard number.isFinite else {
            throw EncodingError.invalidValue(
                number, EncodingError.Context(codingPath: codingPath, debugDescription: "\(number) is not valid JSON"))
        }
        if number == number.rounded(), abs(number) < 1e15 {
            output.append(contentsOf: String(Int64(number)).utf8)
        } else {
            output.append(contentsOf: "\(number)".utf8)
        }
    }

    func writeBool(_ bool: Bool) { output.append(contentsOf: (bool ? "true" : "false").utf8) }

    func writeInteger(_ integer: some BinaryInteger) { output.append(contentsOf: String(integer).utf8) }

    func writeNull() { output.append(contentsOf: "null".utf8) }

    func writeString(_ string: String) {
        var string = string
        output.append(UInt8(ascii: "\""))
        string.withUTF8 { bytes in
            // Runs that need no escaping are copied whole; eight bytes are checked at a time.
            var run = 0
            var index = 0
            while index < bytes.count {
                if index + 8 <= bytes.count,
                    !Self.needsEscape(UnsafeRawPointer(bytes.baseAddress! + index).loadUnaligned(as: UInt64.self))
                {
                    index += 8
                    continue
                }
                let byte = bytes[index]
                if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                    output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index]))
                    writeEscape(byte)
                    run = index + 1
                }
                index += 1
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
        }
        output.append(UInt8(ascii: "\""))
    }

    /// Whether any of the eight bytes in `word` is a control character, a quote or a backslash (the classic
    /// "has a zero byte" and "has a byte below n" word tricks, exact as a yes or no).
    private static func needsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highs != 0 }
        let below0x20 = (word &- ones &* 0x20) & ~word & highs != 0
        return below0x20 || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5c))
    }

    private func writeEscape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): output += [UInt8(ascii: "\\"), byte]
        case 0x0a: output += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
        case 0x0d: output += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
        case 0x09: output += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
        default:
            let hex = Array("0123456789abcdef".utf8)
            output += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
        }
    }

    // MARK: Frames

    /// Opens an object or array at the current position.
    func open(object: Bool) -> Int {
        output.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        frames.append(Frame(isObject: object, firstMember: members.count))
        return frames.count - 1
    }

    /// Closes every frame above `depth` (their values are complete).
    func close(downTo depth: Int) {
        while frames.count > depth {
            let frame = frames.removeLast()
            if frame.isObject {
                if sortedKeys {
                    if !frame.inOrder { sortMembers(from: frame.firstMember) }
                    members.removeSubrange(frame.firstMember...)
                }
                output.append(UInt8(ascii: "}"))
            } else {
                output.append(UInt8(ascii: "]"))
            }
            if !frames.isEmpty, frames[frames.count - 1].isObject { finishMember() }
        }
    }

    /// Starts the next element of frame `index` (closing anything nested deeper that is still open); for objects,
    /// writes the key.
    func beginElement(in index: Int, key: String?) {
        close(downTo: index + 1)
        if frames[index].count > 0 { output.append(UInt8(ascii: ",")) }
        frames[index].count += 1
        guard let key else { return }
        let start = output.count
        writeString(key)
        if sortedKeys {
            let member = Member(
                key: start..<output.count, escaped: output.count - start != key.utf8.count + 2, end: output.count)
            if frames[index].inOrder, members.count > frames[index].firstMember,
                !keyPrecedes(members[members.count - 1], member)
            {
                frames[index].inOrder = false
            }
            members.append(member)
        }
        output.append(UInt8(ascii: ":"))
    }

    /// Records where the current member of the innermost object ends.
    func finishMember() {
        guard sortedKeys, let innermost = frames.last, members.count > innermost.firstMember else { return }
        members[members.count - 1].end = output.count
    }

    /// Rewrites the members of a just-finished object, `members[first...]`, in key order.
    private func sortMembers(from first: Int) {
        guard let start = members[first...].first?.key.lowerBound, let end = members.last?.end else { return }
        members[first...].sort(by: keyPrecedes)
        // The members in their new order go to scratch space, then back over the same bytes (same length).
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: end - start) { rewritten in
            output.withUnsafeMutableBufferPointer { written in
                var position = 0
                for member in members[first...] {
                    if position > 0 {
                        rewritten[position] = UInt8(ascii: ",")
                        position += 1
                    }
                    let bytes = UnsafeMutableBufferPointer(rebasing: written[member.bytes])
                    _ = UnsafeMutableBufferPointer(rebasing: rewritten[position...]).initialize(from: bytes)
                    position += bytes.count
                }
                _ = UnsafeMutableBufferPointer(rebasing: written[start..<end]).update(fromContentsOf: rewritten)
            }
        }
    }

    /// Whether the key of `a` comes before the key of `b` in the byte order of their UTF-8 text. Keys compare as
    /// written, quotes left out, unless either has an escape (which could change the order).
    private func keyPrecedes(_ a: Member, _ b: Member) -> Bool {
        output.withUnsafeBufferPointer { written in
            let left = UnsafeBufferPointer(rebasing: written[(a.key.lowerBound + 1)..<(a.key.upperBound - 1)])
            let right = UnsafeBufferPointer(rebasing: written[(b.key.lowerBound + 1)..<(b.key.upperBound - 1)])
            guard a.escaped || b.escaped else { return left.lexicographicallyPrecedes(right) }
            return Self.unescaped(left).lexicographicallyPrecedes(Self.unescaped(right))
        }
    }

    /// The UTF-8 text of a string `writeString` wrote (without its quotes).
    private static func unescaped(_ written: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var text: [UInt8] = []
        var index = written.startIndex
        while index < written.endIndex {
            let byte = written[index]
            index += 1
            guard byte == UInt8(ascii: "\\"), index < written.endIndex else {
                text.append(byte)
                continue
            }
            let escape = written[index]
            index += 1
            switch escape {
            case UInt8(ascii: "n"): text.append(0x0a)
            case UInt8(ascii: "r"): text.append(0x0d)
            case UInt8(ascii: "t"): text.append(0x09)
            case UInt8(ascii: "u"):  // \u00XX, the only form writeEscape uses
                let hex = UnsafeBufferPointer(rebasing: written[(index + 2)..<(index + 4)])
                text.append(UInt8(String(decoding: hex, as: UTF8.self), radix: 16) ?? 0)
                index += 4
            default: text.append(escape)
            }
        }
        return text
    }

    // MARK: Encoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedStream<Key>(stream: self, index: open(object: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedStream(stream: self, index: open(object: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueStream(stream: self)
    }
}

/// Members of one JSON object. Each `encode` finishes its member before the next begins.
private struct KeyedStream<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let stream: JSONStream
    let index: Int
    var codingPath: [any CodingKey] { stream.codingPath }

    func encodeNil(forKey key: Key) throws {
        stream.beginElement(in: index, key: key.stringValue)
        stream.writeNull()
        stream.finishMember()
    }

    func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        stream.beginElement(in: index, key: key.stringValue)
        try stream.encodeValue(value)
        stream.finishMember()
    }

    func encode(_ value: String, forKey key: Key) throws {
        stream.beginElement(in: index, key: key.stringValue)
        stream.writeString(value)
        stream.finishMember()
    }

    func encode(_ value: Bool, forKey key: Key) throws {
        stream.beginElement(in: index, key: key.stringValue)
        stream.writeBool(value)
        stream.finishMember()
    }

    func encode(_ value: Int, forKey key: Key) throws {
        stream.beginElement(in: index, key: key.stringValue)
        stream.writeInteger(value)
        stream.finishMember()
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        stream.beginElement(in: index, key: key.stringValue)
        return KeyedEncodingContainer(KeyedStream<NestedKey>(stream: stream, index: stream.open(object: true)))
    }

    func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        stream.beginElement(in: index, key: key.stringValue)
        return UnkeyedStream(stream: stream, index: stream.open(object: false))
    }

    func superEncoder() -> any Encoder {
        stream.beginElement(in: index, key: "super")
        return stream
    }

    func superEncoder(forKey key: Key) -> any Encoder {
        stream.beginElement(in: index, key: key.stringValue)
        return stream
    }
}

/// Elements of one JSON array.
private struct UnkeyedStream: UnkeyedEncodingContainer {
    let stream: JSONStream
    let index: Int
    var codingPath: [any CodingKey] { stream.codingPath }
    var count: Int { stream.frames.indices.contains(index) ? stream.frames[index].count : 0 }

    mutating func encodeNil() throws {
        stream.beginElement(in: index, key: nil)
        stream.writeNull()
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        stream.beginElement(in: index, key: nil)
        try stream.encodeValue(value)
    }

    mutating func encode(_ value: String) throws {
        stream.beginElement(in: index, key: nil)
        stream.writeString(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        stream.beginElement(in: index, key: nil)
        return KeyedEncodingContainer(KeyedStream<NestedKey>(stream: stream, index: stream.open(object: true)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        stream.beginElement(in: index, key: nil)
        return UnkeyedStream(stream: stream, index: stream.open(object: false))
    }

    mutating func superEncoder() -> any Encoder {
        stream.beginElement(in: index, key: nil)
        return stream
    }
}

/// One value in place.
private struct SingleValueStream: SingleValueEncodingContainer {
    let stream: JSONStream
    var codingPath: [any CodingKey] { stream.codingPath }

    func encodeNil() throws { stream.writeNull() }

    func encode<T: Encodable>(_ value: T) throws { try stream.encodeValue(value) }

    func encode(_ value: String) throws { stream.writeString(value) }
}
