/// Why a COSE message was rejected: a stable code for programs, a reason for people.
public struct COSEError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Stable machine-readable error codes.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The CBOR is well-formed but not a COSE structure Cloister accepts (wrong shape, types or headers).
        public static let malformed = Code(rawValue: "cose-malformed")
        /// The algorithm is missing, unprotected, or not one Cloister supports.
        public static let unsupportedAlgorithm = Code(rawValue: "cose-unsupported-algorithm")
        /// The key's curve does not match the message's algorithm.
        public static let algorithmMismatch = Code(rawValue: "cose-algorithm-mismatch")
        /// The signature does not verify with the key over the message and external data.
        public static let invalidSignature = Code(rawValue: "cose-invalid-signature")
    }

    /// What went wrong, stably.
    public let code: Code
    /// What went wrong, for a person.
    public let reason: String
    /// Where the error was raised.
    public let file: String
    /// Where the error was raised.
    public let line: Int

    /// An error with `code` and `reason`.
    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public var description: String { "\(code): \(reason)" }

    public static func == (lhs: COSEError, rhs: COSEError) -> Bool {
        lhs.code == rhs.code && lhs.reason == rhs.reason
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(reason)
    }
}
