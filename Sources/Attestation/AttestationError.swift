public import CloisterErrors

/// Why evidence could not be decoded or did not check out: a stable `code` for programs, a `reason` for people.
public struct AttestationError: CodedError {
    public typealias Code = ErrorCode<AttestationError>

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension ErrorCode where Domain == AttestationError {
    /// The bytes are not a well-formed document of the expected format (CBOR, COSE, a field's type or size).
    public static let malformedEvidence = Self("malformed-evidence")
    /// A signature does not verify with the key that should have made it.
    public static let badSignature = Self("bad-signature")
    /// A certificate in the evidence is unreadable or holds an unusable key.
    public static let badCertificate = Self("bad-certificate")
    /// No format of the registry reads the bytes; the reason names every format tried.
    public static let unknownFormat = Self("unknown-evidence-format")
    /// The bytes are evidence Cloister recognises (an Intel DCAP quote, an AMD SEV-SNP report) but cannot verify yet.
    public static let unsupportedFormat = Self("unsupported-evidence-format")
}
