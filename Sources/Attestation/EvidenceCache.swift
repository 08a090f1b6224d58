import CloisterCrypto
import FoundationEssentials
import Glibc
import Synchronization

/// What an appraiser may remember between appraisals, so that evidence from a known platform costs one signature
/// check: parsed certificates by DER (and certificate chains by PEM), verified chains with the window in which the
/// verification holds, verified TCB-status lists, formats' verified collateral with its window, and formats' readings
/// of bytes that decide them alone (an Intel quote's attestation key, a PCK certificate's SGX extensions). Only
/// successes are kept; a chain or an item is reused only at a time inside its window (every certificate valid, every
/// CRL current), so the cache never changes a verdict. Bounded: when full it starts over.
public final class EvidenceCache: Sendable {
    struct VerifiedChain {
        let path: [X509Certificate]
        let validFrom: Date
        let validUntil: Date
    }

    /// A byte-string key hashed in one pass over its bytes and compared with one `memcmp` (an array of bytes
    /// hashes and compares element by element).
    struct Key: Hashable {
        let bytes: [UInt8]

        func hash(into hasher: inout Hasher) {
            bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        }

        static func == (lhs: Key, rhs: Key) -> Bool {
            lhs.bytes.count == rhs.bytes.count
                && lhs.bytes.withUnsafeBytes { left in
                    rhs.bytes.withUnsafeBytes { right in
                        left.isEmpty || memcmp(left.baseAddress!, right.baseAddress!, left.count) == 0
                    }
                }
        }
    }

    /// A format's verified item (parsed, signature-checked collateral) and the window in which the verification
    /// holds.
    struct VerifiedItem {
        let value: any Sendable
        let validFrom: Date
        let validUntil: Date
    }

    private struct State {
        var certificates: [Key: X509Certificate] = [:]
        var certificateChains: [Key: [X509Certificate]] = [:]
        var chains: [Key: VerifiedChain] = [:]
        var statusLists: [Key: TCBStatusList] = [:]
        var items: [Key: VerifiedItem] = [:]
        var readings: [Key: any Sendable] = [:]
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 1024) {
        self.capacity = capacity
    }

    /// The certificate whose DER is `der`, parsed once.
    func certificate(_ der: [UInt8]) throws -> X509Certificate {
        let key = Key(bytes: der)
        if let known = state.withLock({ $0.certificates[key] }) { return known }
        let certificate = try X509Certificate(derRepresentation: der)
        state.withLock { state in
            if state.certificates.count >= capacity { state.certificates.removeAll() }
            state.certificates[key] = certificate
        }
        return certificate
    }

    /// The certificates of the PEM chain `pem` carried in evidence, read strictly
    /// (`X509Certificate.certificates(fromChainPEM:)`) once.
    func certificates(pem: [UInt8]) throws -> [X509Certificate] {
        let key = Key(bytes: pem)
        if let known = state.withLock({ $0.certificateChains[key] }) { return known }
        let certificates = try X509Certificate.certificates(fromChainPEM: pem)
        state.withLock { state in
            if state.certificateChains.count >= capacity { state.certificateChains.removeAll() }
            state.certificateChains[key] = certificates
        }
        return certificates
    }

    /// What `read` makes of the bytes `key` names, made once: for a reading that depends on those bytes alone. A
    /// value of another type kept under the same bytes is read again (and replaced).
    func reading<Value: Sendable, Failure: Error>(
        _ key: [UInt8], _ read: () throws(Failure) -> Value
    ) throws(Failure) -> Value {
        let key = Key(bytes: key)
        if let known = state.withLock({ $0.readings[key] }) as? Value { return known }
        let value = try read()
        state.withLock { state in
            if state.readings.count >= capacity { state.readings.removeAll() }
            state.readings[key] = value
        }
        return value
    }

    /// The item a format verified earlier under `key`, if it is a `Value` and `time` lies inside its window.
    func verifiedItem<Value: Sendable>(_ key: Key, as type: Value.Type, at time: Date) -> Value? {
        guard let entry = state.withLock({ $0.items[key] }), entry.validFrom <= time, time < entry.validUntil else {
            return nil
        }
        return entry.value as? Value
    }

    /// Keeps `value`, verified under `key`, for appraisals from `validFrom` to `validUntil`.
    func storeVerifiedItem(_ key: Key, _ value: any Sendable, validFrom: Date, validUntil: Date) {
        state.withLock { state in
            if state.items.count >= capacity { state.items.removeAll() }
            state.items[key] = VerifiedItem(value: value, validFrom: validFrom, validUntil: validUntil)
        }
    }

    /// The path verified earlier for `key`, if `time` lies inside the window in which that verification holds.
    func chain(_ key: Key, at time: Date) -> [X509Certificate]? {
        guard let entry = state.withLock({ $0.chains[key] }), entry.validFrom <= time, time < entry.validUntil else {
            return nil
        }
        return entry.path
    }

    func storeChain(_ key: Key, path: [X509Certificate], crls: [CertificateRevocationList]) {
        let starts = path.map(\.notValidBefore) + crls.map(\.thisUpdate)
        let ends = path.map(\.notValidAfter) + crls.compactMap(\.nextUpdate)
        guard let validFrom = starts.max(), let validUntil = ends.min() else { return }
        state.withLock { state in
            if state.chains.count >= capacity { state.chains.removeAll() }
            state.chains[key] = VerifiedChain(path: path, validFrom: validFrom, validUntil: validUntil)
        }
    }

    /// The TCB-status list `encoded`, verified once against `root`.
    func statusList(_ encoded: [UInt8], root: X509Certificate) throws(AttestationError) -> TCBStatusList {
        let key = Key(bytes: root.sha256Fingerprint + encoded)
        if let known = state.withLock({ $0.statusLists[key] }) { return known }
        let list = try TCBStatusList(encoded: encoded, root: root)
        state.withLock { state in
            if state.statusLists.count >= capacity { state.statusLists.removeAll() }
            state.statusLists[key] = list
        }
        return list
    }

    /// The key naming one chain verification: every input that can change its outcome, by fingerprint.
    static func chainKey(
        leaf: X509Certificate, bundle: [X509Certificate], anchors: [X509Certificate],
        crls: [CertificateRevocationList], requiresRevocationCheck: Bool, enforcesStrictProfile: Bool
    ) -> Key {
        var bytes: [UInt8] = [(requiresRevocationCheck ? 1 : 0) | (enforcesStrictProfile ? 2 : 0)]
        for count in [bundle.count, anchors.count, crls.count] {
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: count).bigEndian) { bytes += $0 }
        }
        bytes.reserveCapacity(13 + 32 * (1 + bundle.count + anchors.count + crls.count))
        for certificate in [leaf] + bundle + anchors { bytes += certificate.sha256Fingerprint }
        for crl in crls { bytes += crl.sha256Fingerprint }
        return Key(bytes: bytes)
    }
}
