/// The shape of the evidence an enclave's quotes take (`enclave.evidence` in a manifest, `cloister run --evidence`):
/// Cloister's own quote, or one of the formats real hardware produces, signed by the platform's simulated vendor of
/// that shape.
///
/// | kind | evidence |
/// |---|---|
/// | `cloister` | Cloister's quote (COSE_Sign1, Nitro's fields and the `cloister` claims), the default |
/// | `nitro` | an AWS Nitro attestation document (ES384 COSE_Sign1, exactly Nitro's fields) |
/// | `sgx`, `sgx-v4` | an Intel SGX DCAP quote, version 3 or 4 |
/// | `tdx`, `tdx-v5`, `tdx-v5-td15` | an Intel TDX DCAP quote: version 4, version 5 (TD 1.0 body), version 5 (TD 1.5) |
/// | `snp`, `snp-v2`, `snp-v5`, `snp-vlek` | an AMD SEV-SNP report, version 3, 2 or 5 signed by the VCEK; version 3 signed by a VLEK |
public enum EvidenceKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case cloister
    case nitro
    case sgx
    case sgxV4 = "sgx-v4"
    case tdx
    case tdxV5 = "tdx-v5"
    case tdxV5TD15 = "tdx-v5-td15"
    case snp
    case snpV2 = "snp-v2"
    case snpV5 = "snp-v5"
    case snpVLEK = "snp-vlek"

    public var description: String { rawValue }

    /// Every kind, as a manifest or command line writes them.
    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
