extension CBORValue {
    /// An integer item for `value`: major type 0 when non-negative, 1 otherwise.
    public init(_ value: Int64) {
        self = value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(-1 - value))
    }

    /// The value of an unsigned integer item.
    public var uint64Value: UInt64? {
        if case .unsigned(let value) = self { return value }
        return nil
    }

    /// The value of an integer item that fits in `Int64`.
    public var int64Value: Int64? {
        switch self {
        case .unsigned(let value): value <= UInt64(Int64.max) ? Int64(value) : nil
        case .negative(let value): value <= UInt64(Int64.max) ? -1 - Int64(value) : nil
        default: nil
        }
    }

    /// The contents of a byte string item.
    public var bytesValue: [UInt8]? {
        if case .bytes(let value) = self { return value }
        return nil
    }

    /// The contents of a text string item.
    public var textValue: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    /// The elements of an array item.
    public var arrayValue: [CBORValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The entries of a map item, in order.
    public var mapValue: [CBORMapEntry]? {
        if case .map(let value) = self { return value }
        return nil
    }

    /// The value of `false` or `true`.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The value of a floating-point item.
    public var doubleValue: Double? {
        if case .float(let value) = self { return value }
        return nil
    }

    /// Whether the item is `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The tag number and content of a tagged item.
    public var taggedValue: (tag: UInt64, content: CBORValue)? {
        if case .tagged(let tag, let content) = self { return (tag, content) }
        return nil
    }

    /// The value of the first entry whose key is `key`, when the item is a map; nil otherwise.
    public subscript(key: CBORValue) -> CBORValue? {
        guard case .map(let entries) = self else { return nil }
        return entries.first { $0.key == key }?.value
    }
}

extension CBORValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) {
        self.init(value)
    }
}

extension CBORValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) {
        self = .text(value)
    }
}

extension CBORValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) {
        self = .bool(value)
    }
}

extension CBORValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) {
        self = .float(value)
    }
}

extension CBORValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: CBORValue...) {
        self = .array(elements)
    }
}

extension CBORValue: ExpressibleByDictionaryLiteral {
    /// A map with the literal's entries in the order written.
    public init(dictionaryLiteral elements: (CBORValue, CBORValue)...) {
        self = .map(elements.map { CBORMapEntry($0.0, $0.1) })
    }
}
