public import CloisterErrors

/// Why a COSE message was rejected: a stable code for programs, a reason for people.
public struct COSEError: CodedError {
    public typealias Code = ErrorCode<COSEError>

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
}

extension ErrorCode where Domain == COSEError {
    /// The CBOR is well-formed but not a COSE structure Cloister accepts (wrong shape, types or headers).
    public static let malformed = Self("cose-malformed")
    /// The algorithm is missing, unprotected, or not one Cloister supports.
    public static let unsupportedAlgorithm = Self("cose-unsupported-algorithm")
    /// The key's curve does not match the message's algorithm.
    public static let algorithmMismatch = Self("cose-algorithm-mismatch")
    /// The signature does not verify with the key over the message and external data.
    public static let invalidSignature = Self("cose-invalid-signature")
}
