extension CBORValue {
    /// The deterministic encoding of the item (RFC 8949 §4.2.1): shortest heads, definite lengths, floats in the
    /// shortest of half, single and double precision that keeps the value (NaN as `f97e00`), map keys sorted by
    /// their encoded bytes; throws `.duplicateMapKey` for a map with a repeated key.
    public func encoded() throws(CBORError) -> [UInt8] {
        var writer = CBORWriter(reservingCapacity: encodedSizeBound)
        try writer.write(self)
        return writer.bytes
    }

    /// An upper bound on the encoded size (9 bytes per head, plus string contents), so encoding a large item
    /// allocates once instead of growing its buffer step by step.
    var encodedSizeBound: Int {
        switch self {
        case .bytes(let bytes): 9 + bytes.count
        case .text(let text): 9 + text.utf8.count
        case .array(let items): items.reduce(9) { $0 + $1.encodedSizeBound }
        case .map(let entries): entries.reduce(9) { $0 + $1.key.encodedSizeBound + $1.value.encodedSizeBound }
        case .tagged(_, let content): 9 + content.encodedSizeBound
        default: 9
        }
    }
}

/// Appends deterministic CBOR to a byte buffer. Formats with a fixed layout (sealed blobs) write their items
/// directly in canonical key order instead of building and sorting a `CBORValue`.
public struct CBORWriter {
    public private(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 64) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends a head: major type plus the shortest form of its argument (RFC 8949 §3, §4.2.1).
    public mutating func writeHead(major: UInt8, argument: UInt64) {
        let type = major << 5
        switch argument {
        case 0..<24:
            bytes.append(type | UInt8(argument))
        case 24...0xff:
            bytes.append(type | 24)
            bytes.append(UInt8(argument))
        case 0x100...0xffff:
            bytes.append(type | 25)
            withUnsafeBytes(of: UInt16(argument).bigEndian) { bytes.append(contentsOf: $0) }
        case 0x1_0000...0xffff_ffff:
            bytes.append(type | 26)
            withUnsafeBytes(of: UInt32(argument).bigEndian) { bytes.append(contentsOf: $0) }
        default:
            bytes.append(type | 27)
            withUnsafeBytes(of: argument.bigEndian) { bytes.append(contentsOf: $0) }
        }
    }

    /// Appends a definite-length byte string holding `contents`.
    public mutating func writeByteString(_ contents: some Collection<UInt8>) {
        writeHead(major: 2, argument: UInt64(contents.count))
        bytes.append(contentsOf: contents)
    }

    /// Appends the text string `text`.
    public mutating func writeText(_ text: String) {
        writeHead(major: 3, argument: UInt64(text.utf8.count))
        bytes.append(contentsOf: text.utf8)
    }

    /// Appends already encoded bytes verbatim.
    public mutating func writeEncoded(_ encoded: some Collection<UInt8>) {
        bytes.append(contentsOf: encoded)
    }

    public mutating func write(_ value: CBORValue) throws(CBORError) {
        switch value {
        case .unsigned(let number):
            writeHead(major: 0, argument: number)
        case .negative(let number):
            writeHead(major: 1, argument: number)
        case .bytes(let contents):
            writeByteString(contents)
        case .text(let text):
            writeText(text)
        case .array(let elements):
            writeHead(major: 4, argument: UInt64(elements.count))
            for element in elements { try write(element) }
        case .map(let entries):
            try writeMap(entries)
        case .tagged(let tag, let content):
            writeHead(major: 6, argument: tag)
            try write(content)
        case .simple(let number):
            guard number < 20 || number >= 32 else {
                throw CBORError(
                    .unencodable,
                    "simple(\(number)) is reserved or spelled as false/true/null/undefined (RFC 8949 §3.3)"
                )
            }
            writeHead(major: 7, argument: UInt64(number))
        case .bool(let flag):
            bytes.append(flag ? 0xf5 : 0xf4)
        case .null:
            bytes.append(0xf6)
        case .undefined:
            bytes.append(0xf7)
        case .float(let number):
            writeFloat(number)
        }
    }

    /// Writes the entries sorted by the bytewise order of their encoded keys (RFC 8949 §4.2.1).
    private mutating func writeMap(_ entries: [CBORMapEntry]) throws(CBORError) {
        writeHead(major: 5, argument: UInt64(entries.count))
        guard entries.count > 1 else {
            for entry in entries {
                try write(entry.key)
                try write(entry.value)
            }
            return
        }
        var keys = CBORWriter(reservingCapacity: entries.count * 8)
        var keyRanges: [Range<Int>] = []
        keyRanges.reserveCapacity(entries.count)
        for entry in entries {
            let start = keys.bytes.count
            try keys.write(entry.key)
            keyRanges.append(start..<keys.bytes.count)
        }
        let keyBytes = keys.bytes
        let order = keyBytes.withUnsafeBufferPointer { buffer in
            entries.indices.sorted { precedes(buffer[keyRanges[$0]], buffer[keyRanges[$1]]) }
        }
        for (earlier, later) in zip(order, order.dropFirst())
        where keyBytes[keyRanges[earlier]] == keyBytes[keyRanges[later]] {
            throw CBORError(.duplicateMapKey, "map holds the key \(entries[later].key) more than once")
        }
        for index in order {
            bytes.append(contentsOf: keyBytes[keyRanges[index]])
            try write(entries[index].value)
        }
    }

    private mutating func writeFloat(_ number: Double) {
        if number.isNaN {
            bytes.append(contentsOf: [0xf9, 0x7e, 0x00])
        } else if let half = halfPrecisionBits(exactly: number) {
            bytes.append(0xf9)
            withUnsafeBytes(of: half.bigEndian) { bytes.append(contentsOf: $0) }
        } else if let single = Float(exactly: number) {
            bytes.append(0xfa)
            withUnsafeBytes(of: single.bitPattern.bigEndian) { bytes.append(contentsOf: $0) }
        } else {
            bytes.append(0xfb)
            withUnsafeBytes(of: number.bitPattern.bigEndian) { bytes.append(contentsOf: $0) }
        }
    }
}

/// Bytewise lexicographic order, shorter first on a common prefix.
private func precedes(_ lhs: Slice<UnsafeBufferPointer<UInt8>>, _ rhs: Slice<UnsafeBufferPointer<UInt8>>) -> Bool {
    for (left, right) in zip(lhs, rhs) where left != right {
        return left < right
    }
    return lhs.count < rhs.count
}

/// The IEEE 754 binary16 encoding of `number` when it is exactly representable there (NaN handled by the caller).
private func halfPrecisionBits(exactly number: Double) -> UInt16? {
    let sign: UInt16 = number.sign == .minus ? 0x8000 : 0
    let magnitude = number.magnitude
    if magnitude == 0 { return sign }
    if magnitude.isInfinite { return sign | 0x7c00 }
    let exponent = magnitude.exponent
    switch exponent {
    case -14...15:
        // A normal half keeps 10 of the double's 52 fraction bits.
        let fraction = magnitude.significandBitPattern
        guard fraction & ((1 << 42) - 1) == 0 else { return nil }
        return sign | UInt16(exponent + 15) << 10 | UInt16(fraction >> 42)
    case -24 ..< -14:
        // A subnormal half is a multiple of 2^-24 below 2^-14.
        let units = magnitude * 0x1p24
        guard units == units.rounded(.towardZero) else { return nil }
        return sign | UInt16(units)
    default:
        return nil
    }
}
