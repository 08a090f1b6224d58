import CloisterCrypto

/// How a relying party's nonce is bound into the 64 bytes of report data a hardware report carries (SGX, TDX,
/// SEV-SNP), as the policy's `report_data_binding` chooses:
///
/// - `raw`: the report data is the nonce itself, zero-padded to 64 bytes (a nonce of at most 64 bytes);
/// - `sha512-nonce`: the report data is SHA-512 of the nonce;
/// - `cloister`: Cloister's binding of nonce, user data and public key: bytes 0..<32 are SHA-256 of
///   "cloister-report-data-nonce-v1" ‖ nonce, bytes 32..<64 SHA-256 of "cloister-report-data-key-v1" ‖ u32 (big
///   endian) length of the user data ‖ user data ‖ public key. The verifier checks the first half against the nonce
///   it issued; the relying party, which knows the user data and key it expects, checks the second
///   (`cloisterReportData(nonce:userData:publicKey:)`).
public enum ReportDataBinding: String, Sendable, Hashable, CaseIterable, Codable {
    case raw
    case sha512Nonce = "sha512-nonce"
    case cloister

    /// Whether `reportData` binds `nonce` this way.
    public func binds(nonce: [UInt8], in reportData: [UInt8]) -> Bool {
        guard reportData.count == 64 else { return false }
        switch self {
        case .raw:
            return nonce.count <= 64 && reportData == nonce + [UInt8](repeating: 0, count: 64 - nonce.count)
        case .sha512Nonce:
            return reportData == DigestAlgorithm.sha512.hash(nonce)
        case .cloister:
            return reportData[..<32].elementsEqual(Self.cloisterNonceHalf(nonce))
        }
    }

    /// The report data of Cloister's binding of `nonce`, `userData` and `publicKey`.
    public static func cloisterReportData(nonce: [UInt8], userData: [UInt8], publicKey: [UInt8]) -> [UInt8] {
        let length = (0..<4).map { UInt8(truncatingIfNeeded: userData.count >> (24 - 8 * $0)) }
        return cloisterNonceHalf(nonce)
            + DigestAlgorithm.sha256.hash(Array("cloister-report-data-key-v1".utf8) + length + userData + publicKey)
    }

    private static func cloisterNonceHalf(_ nonce: [UInt8]) -> [UInt8] {
        DigestAlgorithm.sha256.hash(Array("cloister-report-data-nonce-v1".utf8) + nonce)
    }
}
