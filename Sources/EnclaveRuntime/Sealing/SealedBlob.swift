import CloisterCBOR
import CloisterCrypto

/// Sealed data in its self-describing form: the key request that re-derives its key, the monotonic counter it was
/// stamped with, and the AES-256-GCM nonce and `ciphertext || tag`.
///
/// On disk it is the deterministic CBOR map {"v": 1, "policy", "product_id", "svn", "tcb_level", "key_id",
/// "counter": {"id", "value"} (only when stamped), "nonce", "ciphertext"}. The deterministic encoding of everything
/// but "ciphertext" (the header) is the associated data, so no field can be changed without the blob failing to
/// open; a container encoded non-canonically still opens, with the same meaning.
public struct SealedBlob: Sendable, Hashable {
    /// The format version this code reads and writes.
    public static let version: UInt64 = 1

    public let request: KeyRequest
    public let counter: MonotonicCounter?
    public let nonce: [UInt8]
    /// `ciphertext || tag`.
    public let ciphertext: [UInt8]

    public init(request: KeyRequest, counter: MonotonicCounter?, nonce: [UInt8], ciphertext: [UInt8]) {
        self.request = request
        self.counter = counter
        self.nonce = nonce
        self.ciphertext = ciphertext
    }

    /// Parses a blob; anything but the deterministic encoding of a well-formed version-1 blob is refused.
    public init(encoded bytes: [UInt8]) throws(SealingError) {
        let value: CBORValue
        do {
            value = try CBORDecoder().decode(bytes)
        } catch {
            throw SealingError(.malformedBlob, "sealed blob is not valid CBOR: \(error.reason)")
        }
        guard let entries = value.mapValue else { throw Self.malformed("is not a CBOR map") }
        let known: Set<String> = [
            "v", "policy", "product_id", "svn", "tcb_level", "key_id", "counter", "nonce", "ciphertext",
        ]
        for entry in entries {
            guard let key = entry.key.textValue, known.contains(key) else {
                throw Self.malformed("has unknown field \(entry.key)")
            }
        }
        guard let version = value["v"]?.uint64Value else { throw Self.malformed("lacks the version field \"v\"") }
        guard version == Self.version else {
            throw Self.malformed("has version \(version); this implementation reads version \(Self.version)")
        }
        guard let policyName = value["policy"]?.textValue, let policy = SealPolicy(rawValue: policyName) else {
            throw Self.malformed("\"policy\" is not \"measurement\" or \"signer\"")
        }
        let productID = try Self.unsigned(value, "product_id", max: UInt64(UInt16.max))
        let svn = try Self.unsigned(value, "svn", max: UInt64(UInt16.max))
        let tcbLevel = try Self.unsigned(value, "tcb_level", max: UInt64(UInt32.max))
        let keyID = try Self.bytes(value, "key_id", count: KeyRequest.keyIDByteCount)
        let nonce = try Self.bytes(value, "nonce", count: AESGCMKey.nonceByteCount)
        guard let ciphertext = value["ciphertext"]?.bytesValue, ciphertext.count >= AESGCMKey.tagByteCount else {
            throw Self.malformed("\"ciphertext\" is missing, not bytes, or shorter than the tag")
        }
        var counter: MonotonicCounter?
        if let stamp = value["counter"] {
            guard stamp.mapValue?.count == 2, let counterValue = stamp["value"]?.uint64Value else {
                throw Self.malformed("\"counter\" is not a map of \"id\" and \"value\"")
            }
            counter = MonotonicCounter(
                id: try Self.bytes(stamp, "id", count: MonotonicCounter.idByteCount), value: counterValue)
        }
        let request: KeyRequest
        do {
            request = try KeyRequest(
                policy: policy, productID: UInt16(productID), svn: UInt16(svn), tcbLevel: UInt32(tcbLevel),
                keyID: keyID)
        } catch {
            throw Self.malformed("has an invalid key request: \(error)")
        }
        // No re-encoding check: the fields that matter are authenticated as their canonical encoding (the
        // associated data), so a blob whose container is encoded differently cannot open with different meaning.
        self.init(request: request, counter: counter, nonce: nonce, ciphertext: ciphertext)
    }

    /// The deterministic CBOR encoding.
    public func encoded() throws -> [UInt8] {
        var entries = headerEntries
        entries.append(CBORMapEntry("ciphertext", .bytes(ciphertext)))
        return try CBORValue.map(entries).encoded()
    }

    /// The associated data: the deterministic encoding of every field but "ciphertext".
    public func header() throws -> [UInt8] {
        try CBORValue.map(headerEntries).encoded()
    }

    private var headerEntries: [CBORMapEntry] {
        var entries: [CBORMapEntry] = [
            CBORMapEntry("v", .unsigned(Self.version)),
            CBORMapEntry("policy", .text(request.policy.rawValue)),
            CBORMapEntry("product_id", .unsigned(UInt64(request.productID))),
            CBORMapEntry("svn", .unsigned(UInt64(request.svn))),
            CBORMapEntry("tcb_level", .unsigned(UInt64(request.tcbLevel))),
            CBORMapEntry("key_id", .bytes(request.keyID)),
            CBORMapEntry("nonce", .bytes(nonce)),
        ]
        if let counter {
            entries.append(
                CBORMapEntry("counter", ["id": .bytes(counter.id), "value": .unsigned(counter.value)]))
        }
        return entries
    }

    private static func malformed(_ problem: String) -> SealingError {
        SealingError(.malformedBlob, "sealed blob \(problem)")
    }

    private static func unsigned(_ map: CBORValue, _ key: String, max: UInt64) throws(SealingError) -> UInt64 {
        guard let value = map[.text(key)]?.uint64Value, value <= max else {
            throw malformed("\"\(key)\" is missing or not an unsigned integer up to \(max)")
        }
        return value
    }

    private static func bytes(_ map: CBORValue, _ key: String, count: Int) throws(SealingError) -> [UInt8] {
        guard let value = map[.text(key)]?.bytesValue, value.count == count else {
            throw malformed("\"\(key)\" is missing or not \(count) bytes")
        }
        return value
    }
}
