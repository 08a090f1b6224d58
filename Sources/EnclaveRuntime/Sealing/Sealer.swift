internal import CEnclaveSandbox
import CloisterCrypto

/// Seals and unseals data inside an enclave (DESIGN.md, invariant 4). Keys come from a `SealingKeyProvider` (the
/// platform), counters from a `MonotonicCounterProvider`; the sealer itself holds neither secrets nor state.
public struct Sealer: Sendable {
    /// The enclave this sealer runs in.
    public let identity: EnclaveIdentity
    /// The platform TCB level new blobs are sealed at.
    public let tcbLevel: UInt32
    private let keys: any SealingKeyProvider
    private let counters: (any MonotonicCounterProvider)?

    public init(
        identity: EnclaveIdentity, tcbLevel: UInt32, keys: any SealingKeyProvider,
        counters: (any MonotonicCounterProvider)? = nil
    ) {
        self.identity = identity
        self.tcbLevel = tcbLevel
        self.keys = keys
        self.counters = counters
    }

    /// Seals `data` under a fresh key for `policy`, stamped with `counter` (the value the state is current at) when
    /// given; returns the blob's encoding.
    public func seal(_ data: [UInt8], policy: SealPolicy, counter: MonotonicCounter? = nil) throws -> [UInt8] {
        try sealedBlob(data, policy: policy, counter: counter).encoded()
    }

    /// Seals `data` and returns the blob as a value.
    public func sealedBlob(_ data: [UInt8], policy: SealPolicy, counter: MonotonicCounter? = nil) throws -> SealedBlob {
        let request = try KeyRequest.fresh(policy: policy, for: identity, tcbLevel: tcbLevel)
        let nonce = try SecureRandom.bytes(count: AESGCMKey.nonceByteCount)
        let unsealed = SealedBlob(request: request, counter: counter, nonce: nonce, ciphertext: [])
        let key = try aesKey(for: request)
        let ciphertext = try key.seal(data, nonce: nonce, associatedData: unsealed.header())
        return SealedBlob(request: request, counter: counter, nonce: nonce, ciphertext: ciphertext)
    }

    /// Opens an encoded blob: authenticates it for this enclave and, when it carries a counter, refuses it if the
    /// counter has since moved past the stamped value.
    public func unseal(_ encoded: [UInt8]) throws -> [UInt8] {
        try unseal(SealedBlob(encoded: encoded))
    }

    /// Opens a blob; see `unseal(_:)` for the checks.
    public func unseal(_ blob: SealedBlob) throws -> [UInt8] {
        let key = try aesKey(for: blob.request)
        let plaintext: [UInt8]
        do {
            plaintext = try key.open(blob.ciphertext, nonce: blob.nonce, associatedData: blob.header())
        } catch let error as CryptoError where error.code == .authenticationFailure {
            let bound = blob.request.policy == .measurement ? "measurement" : "signer and product id"
            throw SealingError(
                .authenticationFailure,
                "sealed blob does not open for this enclave: it was sealed to another enclave identity "
                    + "(\(blob.request.policy.rawValue) policy binds the \(bound)), or it was altered")
        }
        if let stamp = blob.counter {
            guard let counters else {
                throw SealingError(
                    .counterUnavailable, "sealed blob is bound to a monotonic counter but no counter service was given")
            }
            let current = try counters.currentValue(ofCounter: stamp.id)
            guard stamp.value >= current else {
                throw SealingError(
                    .rolledBack, "rolled back: sealed at counter \(stamp.value), current \(current)")
            }
        }
        return plaintext
    }

    /// The AES-256-GCM key for `request`; the raw bytes are wiped once OpenSSL holds the key.
    private func aesKey(for request: KeyRequest) throws -> AESGCMKey {
        var bytes = try keys.sealingKey(for: request)
        defer { bytes.withUnsafeMutableBytes { cloister_secret_wipe($0.baseAddress, $0.count) } }
        return try AESGCMKey(bytes)
    }
}
