public import CloisterErrors

/// Why sealing or unsealing failed: a stable `code` for programs, a `reason` for people.
public struct SealingError: CodedError {
    public typealias Code = ErrorCode<SealingError>

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension ErrorCode where Domain == SealingError {
    /// The bytes are not a sealed blob this version understands (bad CBOR, missing or mistyped field).
    public static let malformedBlob = Self("malformed-blob")
    /// The blob does not open: it was sealed to another enclave identity, or it was altered.
    public static let authenticationFailure = Self("authentication-failure")
    /// The platform refused to derive the key (SVN downgrade, other product, TCB level not reached).
    public static let keyRequestRefused = Self("key-request-refused")
    /// The blob is older than its monotonic counter: sealed state was rolled back.
    public static let rolledBack = Self("rolled-back")
    /// The blob is bound to a monotonic counter but no counter service was given to check it.
    public static let counterUnavailable = Self("counter-unavailable")
    /// The key material or a parameter is unusable (wrong device secret size, failed derivation).
    public static let invalidParameter = Self("invalid-parameter")
}
