/// A CBOR data item (RFC 8949 §3), as decoded from the wire or built for encoding.
///
/// Equality follows the data model: floating-point values are equal when their deterministic encodings are
/// (every NaN equals every NaN; `0.0` and `-0.0` differ), maps compare entry by entry in order.
public enum CBORValue: Sendable {
    /// An unsigned integer (major type 0).
    case unsigned(UInt64)
    /// A negative integer (major type 1): the value is `-1 - n`.
    case negative(UInt64)
    /// A byte string; indefinite-length strings arrive with their chunks joined.
    case bytes([UInt8])
    /// A text string (valid UTF-8 on the wire); indefinite-length strings arrive with their chunks joined.
    case text(String)
    /// An array.
    case array([CBORValue])
    /// A map, with its entries in the order they appeared (or will be sorted into when encoded).
    case map([CBORMapEntry])
    /// A tagged item `tag(value)`.
    indirect case tagged(UInt64, CBORValue)
    /// A simple value other than false, true, null and undefined (0–19 or 32–255).
    case simple(UInt8)
    /// `false` or `true`.
    case bool(Bool)
    /// `null`.
    case null
    /// `undefined`.
    case undefined
    /// A floating-point number, whatever its width on the wire; the encoder picks the shortest exact width.
    case float(Double)
}

/// One key/value pair of a CBOR map.
public struct CBORMapEntry: Sendable, Hashable {
    /// The entry's key.
    public var key: CBORValue
    /// The entry's value.
    public var value: CBORValue

    /// Pairs `key` with `value`.
    public init(_ key: CBORValue, _ value: CBORValue) {
        self.key = key
        self.value = value
    }
}

extension CBORValue: Hashable {
    public static func == (lhs: CBORValue, rhs: CBORValue) -> Bool {
        switch (lhs, rhs) {
        case let (.unsigned(a), .unsigned(b)), let (.negative(a), .negative(b)): a == b
        case let (.bytes(a), .bytes(b)): a == b
        // Byte-wise, not Unicode canonical equivalence; lengths first, which tells most map keys apart at once.
        case let (.text(a), .text(b)): a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
        case let (.array(a), .array(b)): a == b
        case let (.map(a), .map(b)): a == b
        case let (.tagged(tagA, a), .tagged(tagB, b)): tagA == tagB && a == b
        case let (.simple(a), .simple(b)): a == b
        case let (.bool(a), .bool(b)): a == b
        case (.null, .null), (.undefined, .undefined): true
        case let (.float(a), .float(b)): a.isNaN ? b.isNaN : a.bitPattern == b.bitPattern
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .unsigned(let value): hasher.combine(0 as UInt8); hasher.combine(value)
        case .negative(let value): hasher.combine(1 as UInt8); hasher.combine(value)
        case .bytes(let value): hasher.combine(2 as UInt8); hasher.combine(value)
        case .text(let value):
            hasher.combine(3 as UInt8)
            hasher.combine(value.utf8.count)
            for byte in value.utf8 { hasher.combine(byte) }
        case .array(let value): hasher.combine(4 as UInt8); hasher.combine(value)
        case .map(let value): hasher.combine(5 as UInt8); hasher.combine(value)
        case .tagged(let tag, let value): hasher.combine(6 as UInt8); hasher.combine(tag); hasher.combine(value)
        case .simple(let value): hasher.combine(7 as UInt8); hasher.combine(value)
        case .bool(let value): hasher.combine(8 as UInt8); hasher.combine(value)
        case .null: hasher.combine(9 as UInt8)
        case .undefined: hasher.combine(10 as UInt8)
        case .float(let value):
            hasher.combine(11 as UInt8)
            hasher.combine(value.isNaN ? Double.nan.bitPattern : value.bitPattern)
        }
    }
}
