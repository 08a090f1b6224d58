import CloisterCBOR
import CloisterCrypto
public import EnclaveProtocol

/// The platform's key derivation: HKDF-SHA256 from the device root secret, bound to the requesting enclave's
/// identity (DESIGN.md, invariant 2): sealing keys, and the report keys that MAC local reports. Platform side only:
/// it holds the device secret, in locked, non-dumpable memory.
public final class PlatformKeyDeriver: Sendable {
    /// The byte count of the device root secret.
    public static let deviceSecretByteCount = 32
    /// The byte count of a derived key (AES-256).
    public static let keyByteCount = 32
    static let salt = "cloister-seal-v1"
    static let reportSalt = "cloister-report-v1"
    static let counterSalt = "cloister-counter-v1"

    private let deviceSecret: LockedRegion
    /// The platform's current TCB level; requests above it are refused.
    public let tcbLevel: UInt32

    /// Copies `deviceSecret` (32 bytes) into locked memory.
    public init(deviceSecret: [UInt8], tcbLevel: UInt32) throws {
        guard deviceSecret.count == Self.deviceSecretByteCount else {
            throw SealingError(
                .invalidParameter,
                "device secret is \(deviceSecret.count) bytes, expected \(Self.deviceSecretByteCount)")
        }
        self.deviceSecret = try LockedRegion(byteCount: Self.deviceSecretByteCount)
        try self.deviceSecret.withUnsafeMutableBytes { $0.copyBytes(from: deviceSecret) }
        self.tcbLevel = tcbLevel
    }

    /// The key for `request`, for the enclave `identity`; refuses a request the identity may not make.
    ///
    /// The HKDF info is the deterministic CBOR map {policy, the identity value the policy binds (measurement or
    /// signer), product id, SVN, TCB level, key id, debug}.
    public func sealingKey(for identity: EnclaveIdentity, request: KeyRequest) throws -> [UInt8] {
        guard request.productID == identity.productID else {
            throw SealingError(
                .keyRequestRefused,
                "key request for product id \(request.productID) from an enclave of product id \(identity.productID)")
        }
        guard request.svn <= identity.svn else {
            throw SealingError(
                .keyRequestRefused,
                "key request for SVN \(request.svn) from an enclave at SVN \(identity.svn): "
                    + "a downgraded enclave cannot derive a higher SVN's key")
        }
        guard request.tcbLevel <= tcbLevel else {
            throw SealingError(
                .keyRequestRefused,
                "key request for TCB level \(request.tcbLevel) on a platform at TCB level \(tcbLevel)")
        }
        let bound: [UInt8] =
            switch request.policy {
            case .measurement: identity.measurement
            case .signer: identity.signer
            }
        let info: CBORValue = [
            "policy": .text(request.policy.rawValue),
            "identity": .bytes(bound),
            "product_id": .unsigned(UInt64(request.productID)),
            "svn": .unsigned(UInt64(request.svn)),
            "tcb_level": .unsigned(UInt64(request.tcbLevel)),
            "key_id": .bytes(request.keyID),
            "debug": .bool(identity.debug),
        ]
        let encodedInfo = try info.encoded()
        return try deviceSecret.withUnsafeBytes { secret in
            try HKDF.deriveKey(
                inputKeyMaterial: secret, salt: Self.salt, info: encodedInfo, length: Self.keyByteCount,
                digest: .sha256)
        }
    }

    /// The report key of the enclave measured `target`: the platform MACs reports for that target with it, and
    /// hands it only to that enclave (and uses it itself for `EnclaveReport.quotingTarget`).
    public func reportKey(forTarget target: [UInt8]) throws -> [UInt8] {
        try deviceSecret.withUnsafeBytes { secret in
            try HKDF.deriveKey(
                inputKeyMaterial: secret, salt: Self.reportSalt, info: target, length: Self.keyByteCount,
                digest: .sha256)
        }
    }

    /// The key that authenticates the monotonic-counter files, so a counter rewritten outside the platform (another
    /// value, another owner) is detected when it is next read.
    public func counterAuthenticationKey() throws -> [UInt8] {
        try deviceSecret.withUnsafeBytes { secret in
            try HKDF.deriveKey(
                inputKeyMaterial: secret, salt: Self.counterSalt, info: Array("counter-mac".utf8),
                length: Self.keyByteCount, digest: .sha256)
        }
    }
}
