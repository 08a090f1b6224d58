/// Where the simulated vendors' collateral is served (`cloister serve --collateral`: the PCS and KDS routes), as their
/// certificates' CRL distribution points name it, the way Intel's and AMD's name their services.
public enum SimulatedCollateralService {
    /// Where `cloister serve` listens unless told otherwise.
    public static let defaultURL = "http://127.0.0.1:8080"

    /// Whether `url` can be named in a certificate: http or https, with a host, no trailing slash, no query, no
    /// commas or spaces.
    public static func isValid(_ url: String) -> Bool {
        guard let scheme = ["http://", "https://"].first(where: url.hasPrefix) else { return false }
        let rest = url.dropFirst(scheme.count)
        return !rest.isEmpty && !rest.hasPrefix("/") && !url.hasSuffix("/")
            && !url.contains { $0 == "," || $0 == "?" || $0 == "#" || $0.isWhitespace }
    }
}
