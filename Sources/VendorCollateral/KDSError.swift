public import CloisterErrors

/// Why a VCEK, certificate chain or CRL could not be had from AMD's KDS: every reason names the URL (or the cache
/// file, or the report field) and what was wrong with it.
public struct KDSError: CodedError {
    public typealias Code = ErrorCode<KDSError>

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension ErrorCode where Domain == KDSError {
    /// The KDS could not be reached, did not answer in time, or answered with a status other than 2xx.
    public static let unavailable = Self("kds-unavailable")
    /// The KDS went on answering HTTP 429 (too many requests) past the bounded retries.
    public static let rateLimited = Self("kds-rate-limited")
    /// The KDS answered 2xx with something that is not what was asked for: not a DER certificate (or PEM chain, or
    /// DER CRL), too large, or a VCEK for another chip, TCB or product line.
    public static let badResponse = Self("kds-bad-response")
    /// A base URL that is not an absolute http or https URL, or has a query or fragment.
    public static let badURL = Self("kds-bad-url")
    /// The report does not say which VCEK to fetch: its chip ID is masked, it is signed by a VLEK or not at all, or
    /// its product line is unknown or one whose VCEK URL Cloister does not build (Turin).
    public static let unsupportedReport = Self("kds-unsupported-report")
    /// The cache directory cannot be created or written.
    public static let cacheUnwritable = Self("kds-cache-unwritable")
}
