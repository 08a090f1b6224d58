/// A decoded CBOR data item (RFC 8949 §3).
public indirect enum CBORValue: Sendable, Hashable {
    case unsigned(UInt64)
    /// A negative integer encoded as major type 1: the value is `-1 - n`.
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBORValue])
    /// Map entries in the order they appeared (or will be written).
    case map([CBORMapEntry])
    case tagged(UInt64, CBORValue)
    case simple(UInt8)
    case bool(Bool)
    case null
    case undefined
    case float(Double)
}

/// One key/value pair of a CBOR map.
public struct CBORMapEntry: Sendable, Hashable {
    public var key: CBORValue
    public var value: CBORValue

    public init(_ key: CBORValue, _ value: CBORValue) {
        self.key = key
        self.value = value
    }
}
