public import CloisterCrypto

/// What an appraisal trusts: per format, the pinned roots, and for Cloister platforms their CRLs and signed
/// TCB-status lists.
public struct TrustStore: Sendable {
    /// AWS's published SHA-256 fingerprint (of the DER) of the AWS Nitro Enclaves root G1.
    public static let awsNitroRootG1Fingerprint = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
    /// Where AWS publishes that root.
    public static let awsNitroRootURL = "https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip"

    /// Cloister platform roots. Every one is a simulated platform's: evidence that chains to one is simulated.
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
        nitroRoots.compactMap(Self.nitroRootWarning(for:))
    }

    /// A warning when `root` is not the Nitro root AWS publishes (by fingerprint), else nil.
    static func nitroRootWarning(for root: X509Certificate) -> String? {
        let fingerprint = hexEncoded(root.sha256Fingerprint)
        guard fingerprint != awsNitroRootG1Fingerprint else { return nil }
        return "the Nitro trust anchor \(root.subject) (SHA-256 \(fingerprint)) is not AWS's published root G1 "
            + "(\(awsNitroRootG1Fingerprint))"
    }

    /// Whether `certificates` (a document's leaf and CA bundle, and the path verified from them) reach a Cloister
    /// platform: one of them is a configured Cloister root, or carries the platform-id extension that only a Cloister
    /// platform certificate has. Evidence that does is simulated, whatever it claims and whichever list of roots
    /// its chain was verified against.
    public func isCloisterRooted(_ certificates: [X509Certificate]) -> Bool {
        certificates.contains { certificate in
            cloisterRoots.contains(certificate)
                || certificate.extension(oid: PlatformCertificateExtensions.platformIDOID) != nil
        }
    }
}
