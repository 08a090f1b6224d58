public import CloisterErrors

/// Why collateral could not be had from a PCS or PCCS: every reason names the URL (or the cache file) and what was
/// wrong with it.
public struct PCSError: CodedError {
    public typealias Code = ErrorCode<PCSError>

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension ErrorCode where Domain == PCSError {
    /// The service could not be reached, did not answer in time, or answered with a status other than 2xx.
    public static let unavailable = Self("pcs-unavailable")
    /// The service answered 2xx with something that is not the collateral asked for: a missing or unreadable
    /// issuer-chain header, a body that is not the item or too large, an item for another TEE or FMSPC.
    public static let badResponse = Self("pcs-bad-response")
    /// A URL that is not an absolute http or https URL (the base URL given, or a root CA's CRL distribution point).
    public static let badURL = Self("pcs-bad-url")
    /// The quote does not say which collateral it needs: not a DCAP quote with a PCK certificate chain, no FMSPC in
    /// its PCK certificate, or a PCK certificate issued by neither of Intel's PCK CAs (Platform, Processor).
    public static let unsupportedQuote = Self("pcs-unsupported-quote")
    /// The cache directory cannot be created or written.
    public static let cacheUnwritable = Self("pcs-cache-unwritable")
}
