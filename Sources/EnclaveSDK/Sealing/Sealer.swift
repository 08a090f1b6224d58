internal import CEnclaveSandbox
import CloisterCrypto
public import EnclaveProtocol
import Synchronization

/// Seals and unseals data inside an enclave (DESIGN.md, invariant 4). Keys come from a `SealingKeyProvider` (the
/// platform), counters from a `MonotonicCounterProvider`.
///
/// Asking the platform for a key costs a round trip over the enclave's channel, so a sealer asks once per policy:
/// its blobs share one random key id (and key) per policy, and the key is rotated to a fresh key id after
/// `maximumBlobsPerKey` blobs. Nonces are deterministic (NIST SP 800-38D §8.2.1): 32 zero bits then the 64-bit count
/// of blobs sealed under the key, so no nonce ever repeats under a key; the key itself is never shared with another
/// sealer, because every sealer draws its own random key id. Keys for unsealing are kept by key request, up to `keyCacheCapacity` of them. Cached keys live in
/// OpenSSL's cipher context only; the raw bytes are wiped as soon as OpenSSL holds them.
public struct Sealer: Sendable {
    /// Blobs sealed under one key before the sealer requests a fresh one.
    public static let maximumBlobsPerKey = 1 << 30
    /// Distinct keys kept for unsealing.
    public static let keyCacheCapacity = 64

    /// The enclave this sealer runs in.
    public let identity: EnclaveIdentity
    /// The platform TCB level new blobs are sealed at.
    public let tcbLevel: UInt32
    private let keys: any SealingKeyProvider
    private let counters: (any MonotonicCounterProvider)?
    private let cache = KeyCache()

    public init(
        identity: EnclaveIdentity, tcbLevel: UInt32, keys: any SealingKeyProvider,
        counters: (any MonotonicCounterProvider)? = nil
    ) {
        self.identity = identity
        self.tcbLevel = tcbLevel
        self.keys = keys
        self.counters = counters
    }

    /// Seals `data` under the sealer's current key for `policy`, stamped with `counter` (the value the state is
    /// current at) when given; returns the blob's encoding, the ciphertext written in place.
    public func seal(_ data: [UInt8], policy: SealPolicy, counter: MonotonicCounter? = nil) throws -> [UInt8] {
        let (request, key, invocation) = try sealingKey(for: policy)
        let nonce = [0, 0, 0, 0] + withUnsafeBytes(of: UInt64(invocation).bigEndian, Array.init)
        let blob = SealedBlob(request: request, counter: counter, nonce: nonce, ciphertext: [])
        return try key.seal(
            data, nonce: nonce, associatedData: blob.header(),
            framedBy: blob.framePrefix(sealedByteCount: data.count + AESGCMKey.tagByteCount), blob.frameSuffix)
    }

    /// Seals `data` and returns the blob as a value.
    public func sealedBlob(_ data: [UInt8], policy: SealPolicy, counter: MonotonicCounter? = nil) throws -> SealedBlob {
        try SealedBlob(encoded: seal(data, policy: policy, counter: counter))
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
            plaintext = try key.open(blob.sealed, nonce: blob.nonce, associatedData: blob.header())
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

    /// The current key for sealing under `policy`, requesting a fresh one on first use and after rotation.
    /// Returns the key with the number of this use of it (0 for the first).
    private func sealingKey(for policy: SealPolicy) throws -> (KeyRequest, AESGCMKey, Int) {
        if let current = cache.current(policy) { return current }
        let request = try KeyRequest.fresh(policy: policy, for: identity, tcbLevel: tcbLevel)
        let key = try aesKey(for: request)
        cache.setCurrent(policy, request, key)
        return (request, key, 0)
    }

    /// The AES-256-GCM key for `request`, from the cache or the platform; the raw bytes are wiped once OpenSSL
    /// holds the key.
    private func aesKey(for request: KeyRequest) throws -> AESGCMKey {
        if let cached = cache.key(for: request) { return cached }
        var bytes = try keys.sealingKey(for: request)
        defer { bytes.withUnsafeMutableBytes { cloister_secret_wipe($0.baseAddress, $0.count) } }
        let key = try AESGCMKey(bytes)
        cache.insert(key, for: request)
        return key
    }
}

/// The sealer's keys: the current sealing key per policy with its use count, and recently used keys by request.
private final class KeyCache: Sendable {
    private struct State {
        var current: [SealPolicy: (request: KeyRequest, key: AESGCMKey, uses: Int)] = [:]
        var keys: [KeyRequest: AESGCMKey] = [:]
        var order: [KeyRequest] = []
    }

    private let state = Mutex(State())

    /// The current key for `policy` and the number of this use, counting it; nil when there is none or it has
    /// been used up.
    func current(_ policy: SealPolicy) -> (KeyRequest, AESGCMKey, Int)? {
        state.withLock { state in
            guard let entry = state.current[policy], entry.uses < Sealer.maximumBlobsPerKey else { return nil }
            state.current[policy]?.uses += 1
            return (entry.request, entry.key, entry.uses)
        }
    }

    func setCurrent(_ policy: SealPolicy, _ request: KeyRequest, _ key: AESGCMKey) {
        state.withLock { $0.current[policy] = (request, key, 1) }
    }

    func key(for request: KeyRequest) -> AESGCMKey? {
        state.withLock { $0.keys[request] }
    }

    func insert(_ key: AESGCMKey, for request: KeyRequest) {
        state.withLock { state in
            guard state.keys.updateValue(key, forKey: request) == nil else { return }
            state.order.append(request)
            if state.order.count > Sealer.keyCacheCapacity {
                state.keys[state.order.removeFirst()] = nil
            }
        }
    }
}
