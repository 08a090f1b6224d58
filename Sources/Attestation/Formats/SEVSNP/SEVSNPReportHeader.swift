/// What identifies an AMD SEV-SNP attestation report (SEV Secure Nested Paging Firmware ABI Specification, the
/// ATTESTATION_REPORT structure): 1184 bytes (then, in an extended report, its certificate table), the report version
/// (u32 LE at 0: 2, 3 or 5) and the signature algorithm (u32 LE at 0x34: 1, ECDSA P-384 with SHA-384).
public struct SEVSNPReportHeader: Sendable, Hashable, CustomStringConvertible {
    /// The size of a report.
    public static let byteCount = 1184
    /// The report versions recognised.
    public static let versions: Set<UInt32> = [2, 3, 5]
    /// ECDSA P-384 with SHA-384, the only signature algorithm reports use.
    public static let ecdsaP384SHA384: UInt32 = 1

    public let version: UInt32

    /// Reads the header of `bytes`: a report when their size (at least a report's), version and signature algorithm
    /// are a report's.
    static func read(_ bytes: [UInt8]) -> EvidenceReading<SEVSNPReportHeader> {
        guard bytes.count >= byteCount, let version = bytes.littleEndian(UInt32.self, at: 0),
            versions.contains(version), bytes.littleEndian(UInt32.self, at: 0x34) == ecdsaP384SHA384
        else { return .notThisFormat }
        let report = SEVSNPReportHeader(version: version)
        return .read(report, summary: report.description)
    }

    /// What the report is, as refusals name it.
    public var description: String {
        "an AMD SEV-SNP attestation report, version \(version), signed ECDSA P-384 with SHA-384"
    }
}
