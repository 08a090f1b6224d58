package import CloisterCBOR
import CloisterCrypto

/// What an enclave asks the platform for when it needs a sealing key: which identity binding, at which version,
/// and a random key id so that every blob has its own key.
public struct KeyRequest: Sendable, Hashable {
    /// The byte count of a key id.
    public static let keyIDByteCount = 16

    public let policy: SealPolicy
    public let productID: UInt16
    /// The SVN the data is sealed at; the requesting enclave's SVN must be at least this.
    public let svn: UInt16
    /// The platform TCB level the data is sealed at; the platform's level must be at least this.
    public let tcbLevel: UInt32
    /// 16 random bytes chosen when sealing.
    public let keyID: [UInt8]

    public init(policy: SealPolicy, productID: UInt16, svn: UInt16, tcbLevel: UInt32, keyID: [UInt8]) throws {
        guard keyID.count == Self.keyIDByteCount else {
            throw SealingError(.invalidParameter, "key id is \(keyID.count) bytes, expected \(Self.keyIDByteCount)")
        }
        self.policy = policy
        self.productID = productID
        self.svn = svn
        self.tcbLevel = tcbLevel
        self.keyID = keyID
    }

    /// A request for a fresh key (random key id) at `identity`'s product id and SVN.
    public static func fresh(policy: SealPolicy, for identity: EnclaveIdentity, tcbLevel: UInt32) throws -> KeyRequest {
        try KeyRequest(
            policy: policy, productID: identity.productID, svn: identity.svn, tcbLevel: tcbLevel,
            keyID: SecureRandom.bytes(count: keyIDByteCount))
    }
}

extension KeyRequest {
    /// The request as a CBOR map {policy, product_id, svn, tcb_level, key_id}.
    package var cborValue: CBORValue {
        [
            "policy": .text(policy.rawValue),
            "product_id": .unsigned(UInt64(productID)),
            "svn": .unsigned(UInt64(svn)),
            "tcb_level": .unsigned(UInt64(tcbLevel)),
            "key_id": .bytes(keyID),
        ]
    }

    /// Reads the map `cborValue` writes; a missing, mistyped or out-of-range field is refused.
    package init(cbor value: CBORValue) throws {
        guard let name = value["policy"]?.textValue, let policy = SealPolicy(rawValue: name),
            let productID = value["product_id"]?.uint64Value, productID <= UInt64(UInt16.max),
            let svn = value["svn"]?.uint64Value, svn <= UInt64(UInt16.max),
            let tcbLevel = value["tcb_level"]?.uint64Value, tcbLevel <= UInt64(UInt32.max),
            let keyID = value["key_id"]?.bytesValue
        else {
            throw PlatformError(
                .invalidRequest, "key request is not a {policy, product_id, svn, tcb_level, key_id} map")
        }
        try self.init(
            policy: policy, productID: UInt16(productID), svn: UInt16(svn), tcbLevel: UInt32(tcbLevel), keyID: keyID)
    }
}

/// Where the enclave gets sealing keys from. The platform answers for the enclave it launched (over the channel in
/// production), so enclave code never holds the device secret and only ever receives keys for its own identity.
public protocol SealingKeyProvider: Sendable {
    /// The 32-byte AES-256-GCM key for `request`, derived for the calling enclave's identity.
    func sealingKey(for request: KeyRequest) throws -> [UInt8]
}

/// Where the enclave reads its monotonic counters from, to detect rolled-back sealed state.
public protocol MonotonicCounterProvider: Sendable {
    /// The current value of the counter `id`, which the calling enclave must own.
    func currentValue(ofCounter id: [UInt8]) throws -> UInt64
}
