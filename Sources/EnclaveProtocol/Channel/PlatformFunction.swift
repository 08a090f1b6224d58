/// The functions an enclave calls on its platform over its private channel (fd 4), with CBOR arguments and results
/// (`PlatformEnclaveService` answers them, the enclave's runtime calls them).
public enum PlatformFunction: String, Sendable, CaseIterable {
    case identity, hardened
    case trustedFile = "trusted-file"
    case sealKey = "seal-key"
    case reportKey = "report-key"
    case report, quote
    case counterCreate = "counter-create"
    case counterRead = "counter-read"
    case counterIncrement = "counter-increment"
    case counterDelete = "counter-delete"
}
