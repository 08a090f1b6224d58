public import CloisterCrypto

/// What an appraisal trusts: per format, the pinned roots, and for Cloister platforms their CRLs and signed
/// TCB-status lists.
public struct TrustStore: Sendable {
    /// AWS's published SHA-256 fingerprint (of the DER) of the AWS Nitro Enclaves root G1.
    public static let awsNitroRootG1Fingerprint = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
    /// Where AWS publishes that root.
    public static let awsNitroRootURL = "https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip"

    /// Cloister platform roots (simulated platforms only).
    public var cloisterRoots: [X509Certificate]
    /// CRLs of the Cloister platforms' CAs.
    public var cloisterRevocationLists: [CertificateRevocationList]
    /// Signed TCB-status lists, each verified against the root that signed it.
    public var tcbStatusLists: [[UInt8]]
    /// AWS Nitro roots.
    public var nitroRoots: [X509Certificate]

    public init(
        cloisterRoots: [X509Certificate] = [], cloisterRevocationLists: [CertificateRevocationList] = [],
        tcbStatusLists: [[UInt8]] = [], nitroRoots: [X509Certificate] = []
    ) {
        self.cloisterRoots = cloisterRoots
        self.cloisterRevocationLists = cloisterRevocationLists
        self.tcbStatusLists = tcbStatusLists
        self.nitroRoots = nitroRoots
    }

    /// A warning for each Nitro root that is not the one AWS publishes (by fingerprint).
    public var nitroRootWarnings: [String] {
        nitroRoots.filter { hexEncoded($0.sha256Fingerprint) != Self.awsNitroRootG1Fingerprint }.map {
            "the Nitro trust anchor \($0.subject) (SHA-256 \(hexEncoded($0.sha256Fingerprint))) is not AWS's published "
                + "root G1 (\(Self.awsNitroRootG1Fingerprint))"
        }
    }
}
