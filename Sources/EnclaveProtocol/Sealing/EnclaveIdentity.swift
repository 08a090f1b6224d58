/// What the platform knows an enclave by: its measurement, its signer, and the product line and version the signer
/// gave it.
public struct EnclaveIdentity: Sendable, Hashable {
    /// The byte count of a measurement and of a signer id (SHA-384).
    public static let digestByteCount = 48

    /// SHA-384 over the executable, the canonical manifest and the trusted files.
    public let measurement: [UInt8]
    /// SHA-384 of the signer's public key.
    public let signer: [UInt8]
    /// The signer's product id.
    public let productID: UInt16
    /// The security version number the signer assigned to this build.
    public let svn: UInt16
    /// Whether the enclave runs in debug mode (its keys never equal a production enclave's).
    public let debug: Bool

    /// Builds an identity; measurement and signer must be 48 bytes.
    public init(measurement: [UInt8], signer: [UInt8], productID: UInt16, svn: UInt16, debug: Bool) throws {
        for (name, value) in [("measurement", measurement), ("signer", signer)]
        where value.count != Self.digestByteCount {
            throw SealingError(
                .invalidParameter, "\(name) is \(value.count) bytes, expected \(Self.digestByteCount) (SHA-384)")
        }
        self.measurement = measurement
        self.signer = signer
        self.productID = productID
        self.svn = svn
        self.debug = debug
    }
}

/// Which part of an enclave's identity a sealing key is bound to.
public enum SealPolicy: String, Sendable, Hashable, CaseIterable {
    /// Only this exact enclave build (same measurement) can unseal.
    case measurement
    /// Any enclave of the same signer and product id, at an equal or higher SVN, can unseal.
    case signer
}
