public import CloisterCrypto

/// What an appraisal trusts, per evidence format: the pinned roots, the CRLs of their CAs, and the collateral the
/// format's verifier reads beside the evidence.
public struct TrustStore: Sendable {
    /// What appraisals of one format trust.
    public struct FormatTrust: Sendable {
        /// The roots the format's chains must end in.
        public var roots: [X509Certificate]
        /// CRLs of the format's CAs (required for every certificate when the format says so, else checked when given).
        public var revocationLists: [CertificateRevocationList]
        /// Signed statements the format's verifier reads beside the evidence, as received (Cloister: the platforms'
        /// TCB-status lists), each verified by the format against its roots.
        public var collateral: [[UInt8]]

        public init(
            roots: [X509Certificate] = [], revocationLists: [CertificateRevocationList] = [], collateral: [[UInt8]] = []
        ) {
            self.roots = roots
            self.revocationLists = revocationLists
            self.collateral = collateral
        }
    }

    private var formats: [EvidenceFormat: FormatTrust]

    /// Trust for each format in `formats`; any other format trusts nothing.
    public init(_ formats: [EvidenceFormat: FormatTrust]) {
        self.formats = formats
    }

    /// What appraisals of `format` trust.
    public subscript(format: EvidenceFormat) -> FormatTrust {
        get { formats[format] ?? FormatTrust() }
        set { formats[format] = newValue }
    }

    /// Trust for Cloister quotes (platform roots, their CRLs and signed TCB-status lists) and AWS Nitro documents.
    public init(
        cloisterRoots: [X509Certificate] = [], cloisterRevocationLists: [CertificateRevocationList] = [],
        tcbStatusLists: [[UInt8]] = [], nitroRoots: [X509Certificate] = []
    ) {
        self.init([
            .cloister: FormatTrust(
                roots: cloisterRoots, revocationLists: cloisterRevocationLists, collateral: tcbStatusLists),
            .nitro: FormatTrust(roots: nitroRoots),
        ])
    }
}
