import CloisterCrypto
import Glibc

/// Reads deterministically encoded CBOR item by item, in place: for formats with a fixed layout whose large byte
/// strings should not be copied (a sealed blob's ciphertext). Every head must be in its shortest form and every
/// length definite, so what the cursor accepts is canonical; anything else is a `CBORError`.
public struct CBORCursor {
    public let bytes: [UInt8]
    /// The offset of the next item.
    public private(set) var offset: Int
    /// Where the items to read end.
    private let end: Int

    /// A cursor over every byte of `bytes`, or over `range` of them (an item inside a larger message, read without
    /// copying it out); the ranges it returns index `bytes`.
    public init(_ bytes: [UInt8], range: Range<Int>? = nil) {
        self.bytes = bytes
        let range = range ?? bytes.indices
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "the range lies outside the bytes")
        offset = range.lowerBound
        end = range.upperBound
    }

    /// Whether every byte was read.
    public var isAtEnd: Bool { offset == end }

    /// Reads a head of major type `major` and returns its argument.
    public mutating func readHead(major: UInt8) throws(CBORError) -> UInt64 {
        guard offset < end else { throw CBORError(.truncated, "expected an item at byte \(offset)") }
        let initial = bytes[offset]
        guard initial >> 5 == major else {
            throw CBORError(.malformed, "expected major type \(major) at byte \(offset), found \(initial >> 5)")
        }
        let additional = initial & 0x1f
        let width: Int
        switch additional {
        case 0..<24: width = 0
        case 24: width = 1
        case 25: width = 2
        case 26: width = 4
        case 27: width = 8
        default: throw CBORError(.malformed, "indefinite or reserved length at byte \(offset)")
        }
        guard end - offset - 1 >= width else {
            throw CBORError(.truncated, "head at byte \(offset) is cut off")
        }
        let argument =
            width == 0
            ? UInt64(additional) : bytes[(offset + 1)...(offset + width)].reduce(0) { $0 << 8 | UInt64($1) }
        let shortest: Int =
            switch argument {
            case 0..<24: 0
            case 24...0xff: 1
            case 0x100...0xffff: 2
            case 0x1_0000...0xffff_ffff: 4
            default: 8
            }
        guard width == shortest else {
            throw CBORError(.malformed, "head at byte \(offset) is not in its shortest form")
        }
        offset += 1 + width
        return argument
    }

    /// Reads an unsigned integer.
    public mutating func readUnsigned() throws(CBORError) -> UInt64 {
        try readHead(major: 0)
    }

    /// Reads a byte string and returns where its contents lie in `bytes` (nothing is copied).
    public mutating func readByteStringRange() throws(CBORError) -> Range<Int> {
        let length = try readHead(major: 2)
        guard length <= UInt64(end - offset) else {
            throw CBORError(
                .truncated, "byte string at byte \(offset) claims \(length) bytes; \(end - offset) remain")
        }
        defer { offset += Int(length) }
        return offset..<(offset + Int(length))
    }

    /// Reads a byte string's contents.
    public mutating func readByteString() throws(CBORError) -> [UInt8] {
        Array(bytes[try readByteStringRange()])
    }

    /// Reads a text string, which must be valid UTF-8.
    public mutating func readText() throws(CBORError) -> String {
        let length = try readHead(major: 3)
        guard length <= UInt64(end - offset) else {
            throw CBORError(
                .truncated, "text string at byte \(offset) claims \(length) bytes; \(end - offset) remain")
        }
        let range = offset..<(offset + Int(length))
        offset += Int(length)
        guard let text = String(validating: bytes[range], as: UTF8.self) else {
            throw CBORError(.invalidUTF8, "text string at byte \(range.lowerBound) is not valid UTF-8")
        }
        return text
    }

    /// Reads a text string and tells whether it is exactly `expected` (compared as UTF-8, without building a String).
    public mutating func readText(equals expected: String) throws(CBORError) -> Bool {
        let length = try readHead(major: 3)
        guard length <= UInt64(end - offset) else {
            throw CBORError(
                .truncated, "text string at byte \(offset) claims \(length) bytes; \(end - offset) remain")
        }
        let range = offset..<(offset + Int(length))
        offset += Int(length)
        var expected = expected
        return expected.withUTF8 { utf8 in
            utf8.count == range.count
                && bytes.withUnsafeBytes {
                    memcmp($0.baseAddress! + range.lowerBound, utf8.baseAddress!, utf8.count) == 0
                }
        }
    }

    /// Reads a map head and returns its number of entries.
    public mutating func readMapCount() throws(CBORError) -> Int {
        let count = try readHead(major: 5)
        guard count <= UInt64(end - offset) else {
            throw CBORError(.truncated, "map at byte \(offset) claims \(count) entries")
        }
        return Int(count)
    }

    /// Reads a map of `count` entries from text keys to byte strings, its keys in deterministic order (bytewise by
    /// their encodings, RFC 8949 §4.2.1, as `CBORValue.encoded()` writes them), and returns where each value lies in
    /// `bytes` (nothing is copied): for messages whose fields are megabytes. Refuses another count, keys out of order
    /// or repeated, or a key or value of another type.
    public mutating func readByteStringFields(count expected: Int) throws(CBORError) -> [String: Range<Int>] {
        let count = try readMapCount()
        guard count == expected else {
            throw CBORError(.malformed, "expected a map of \(expected) entries, found \(count)")
        }
        var fields: [String: Range<Int>] = [:]
        var previous: Range<Int>?
        for _ in 0..<count {
            let keyStart = offset
            let name = try readText()
            let key = keyStart..<offset
            if let previous, !bytes[previous].lexicographicallyPrecedes(bytes[key]) {
                throw CBORError(
                    .malformed,
                    fields[name] == nil
                        ? "the key \"\(name)\" is out of deterministic order" : "the key \"\(name)\" appears twice")
            }
            previous = key
            fields[name] = try readByteStringRange()
        }
        return fields
    }
}
