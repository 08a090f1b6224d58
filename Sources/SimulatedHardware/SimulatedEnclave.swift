/// What simulated hardware states about one enclave, whichever vendor's shape its evidence takes: the identity the
/// platform measured and the 64 bytes of report data the quote binds. Each format maps these onto its own fields by
/// the rules of docs/ARCHITECTURE.md ("Simulated hardware"), so a policy written from `cloister measure` serves every
/// evidence kind.
public struct SimulatedEnclave: Sendable, Hashable {
    /// The 48-byte enclave measurement (SHA-384; Cloister's PCR0, TDX's MRTD, SEV-SNP's MEASUREMENT).
    public var measurement: [UInt8]
    /// The 48-byte signer id (SHA-384 of the manifest signer's public key; Cloister's PCR8).
    public var signer: [UInt8]
    public var productID: UInt16
    public var svn: UInt16
    public var debug: Bool
    /// SHA-384 of the canonical manifest (48 bytes).
    public var manifestHash: [UInt8]
    /// The 64 bytes of report data (`ReportDataBinding.cloisterReportData`).
    public var reportData: [UInt8]

    public init(
        measurement: [UInt8], signer: [UInt8], productID: UInt16, svn: UInt16, debug: Bool, manifestHash: [UInt8],
        reportData: [UInt8]
    ) {
        self.measurement = measurement
        self.signer = signer
        self.productID = productID
        self.svn = svn
        self.debug = debug
        self.manifestHash = manifestHash
        self.reportData = reportData
    }
}
