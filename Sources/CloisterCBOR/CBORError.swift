public import CloisterErrors

/// Why CBOR could not be decoded or encoded: a stable code for programs, a reason (with the byte offset) for people.
public struct CBORError: CodedError {
    public typealias Code = ErrorCode<CBORError>

    /// What went wrong, stably.
    public let code: Code
    /// What went wrong, for a person.
    public let reason: String
    /// The input byte offset of the offending item, when decoding.
    public let offset: Int?
    /// Where the error was raised.
    public let file: String
    /// Where the error was raised.
    public let line: Int

    /// An error with `code`, `reason` and, for decoding, the offending `offset`.
    public init(_ code: Code, _ reason: String, offset: Int? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.offset = offset
        self.file = file
        self.line = line
    }

    public var description: String {
        if let offset { return "\(code) at byte \(offset): \(reason)" }
        return "\(code): \(reason)"
    }

    public static func == (lhs: CBORError, rhs: CBORError) -> Bool {
        lhs.code == rhs.code && lhs.reason == rhs.reason && lhs.offset == rhs.offset
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(reason)
        hasher.combine(offset)
    }
}

extension ErrorCode where Domain == CBORError {
    /// The input ends before the item does (including a length that claims more bytes than remain).
    public static let truncated = Self("truncated")
    /// The input is not well-formed CBOR (reserved additional information, stray break, bad chunk, ...).
    public static let malformed = Self("malformed")
    /// A text string is not valid UTF-8.
    public static let invalidUTF8 = Self("invalid-utf8")
    /// Bytes follow the top-level item.
    public static let trailingBytes = Self("trailing-bytes")
    /// A map holds the same key twice.
    public static let duplicateMapKey = Self("duplicate-map-key")
    /// Containers and tags nest deeper than the limit.
    public static let depthLimitExceeded = Self("depth-limit-exceeded")
    /// The input holds more data items than the limit.
    public static let itemLimitExceeded = Self("item-limit-exceeded")
    /// The input is larger than the limit.
    public static let sizeLimitExceeded = Self("size-limit-exceeded")
    /// A value cannot be encoded (a simple value that CBOR reserves or spells otherwise).
    public static let unencodable = Self("unencodable")
}
