import CloisterCBOR
import CloisterCrypto

/// Sealed data in its self-describing form: the key request that re-derives its key, the monotonic counter it was
/// stamped with, and the AES-256-GCM nonce and `ciphertext || tag`.
///
/// On disk it is the deterministic CBOR map {"v": 1, "policy", "product_id", "svn", "tcb_level", "key_id",
/// "counter": {"id", "value"} (only when stamped), "nonce", "ciphertext"}. Everything but "ciphertext" (the header)
/// is the associated data, in its deterministic encoding, so no field can be changed without the blob failing to
/// open. The layout is fixed, so the blob is written and read directly in canonical key order (v, svn, nonce,
/// key_id, policy, counter, tcb_level, ciphertext, product_id): the ciphertext is never copied or re-encoded, and
/// anything but the canonical encoding is refused.
public struct SealedBlob: Sendable, Hashable {
    /// The format version this code reads and writes.
    public static let version: UInt64 = 1

    public let request: KeyRequest
    public let counter: MonotonicCounter?
    public let nonce: [UInt8]
    /// `ciphertext || tag`, in place in the bytes the blob was read from.
    package let sealed: ArraySlice<UInt8>
    /// The canonical encoding of the map entries before "ciphertext" (from "v" to "tcb_level"): what the encoding
    /// and the associated data share, kept from the bytes read or written once.
    private let leadingFields: ArraySlice<UInt8>

    /// `ciphertext || tag`.
    public var ciphertext: [UInt8] { Array(sealed) }

    public init(request: KeyRequest, counter: MonotonicCounter?, nonce: [UInt8], ciphertext: [UInt8]) {
        self.request = request
        self.counter = counter
        self.nonce = nonce
        self.sealed = ciphertext[...]
        var fields = CBORWriter(reservingCapacity: 128)
        Self.writeFieldsBeforeCiphertext(request: request, counter: counter, nonce: nonce, into: &fields)
        self.leadingFields = fields.bytes[...]
    }

    /// Parses a blob; anything but the canonical encoding of a well-formed version-1 blob is refused.
    public init(encoded bytes: [UInt8]) throws(SealingError) {
        var cursor = CBORCursor(bytes)
        do {
            let count = try cursor.readMapCount()
            guard count == 8 || count == 9 else { throw Self.malformed("is not a map of 8 or 9 fields") }
            try Self.expect("v", &cursor)
            let version = try cursor.readUnsigned()
            guard version == Self.version else {
                throw Self.malformed("has version \(version); this implementation reads version \(Self.version)")
            }
            try Self.expect("svn", &cursor)
            let svn = try cursor.readUnsigned()
            try Self.expect("nonce", &cursor)
            let nonce = try cursor.readByteString()
            try Self.expect("key_id", &cursor)
            let keyID = try cursor.readByteString()
            try Self.expect("policy", &cursor)
            guard let policy = SealPolicy(rawValue: try cursor.readText()) else {
                throw Self.malformed("\"policy\" is not \"measurement\" or \"signer\"")
            }
            var counter: MonotonicCounter?
            if count == 9 {
                try Self.expect("counter", &cursor)
                guard try cursor.readMapCount() == 2 else {
                    throw Self.malformed("\"counter\" is not a map of id and value")
                }
                try Self.expect("id", &cursor)
                let id = try cursor.readByteString()
                try Self.expect("value", &cursor)
                let value = try cursor.readUnsigned()
                guard id.count == MonotonicCounter.idByteCount else {
                    throw Self.malformed("\"counter\".\"id\" is not \(MonotonicCounter.idByteCount) bytes")
                }
                counter = MonotonicCounter(id: id, value: value)
            }
            try Self.expect("tcb_level", &cursor)
            let tcbLevel = try cursor.readUnsigned()
            let leadingFields = bytes[1..<cursor.offset]
            try Self.expect("ciphertext", &cursor)
            let sealed = try cursor.readByteStringRange()
            try Self.expect("product_id", &cursor)
            let productID = try cursor.readUnsigned()
            guard cursor.isAtEnd else { throw Self.malformed("has bytes after its map") }
            guard svn <= UInt64(UInt16.max), productID <= UInt64(UInt16.max), tcbLevel <= UInt64(UInt32.max) else {
                throw Self.malformed("has an SVN, product id or TCB level out of range")
            }
            guard nonce.count == AESGCMKey.nonceByteCount else {
                throw Self.malformed("\"nonce\" is not \(AESGCMKey.nonceByteCount) bytes")
            }
            guard sealed.count >= AESGCMKey.tagByteCount else {
                throw Self.malformed("\"ciphertext\" is shorter than the tag")
            }
            let request: KeyRequest
            do {
                request = try KeyRequest(
                    policy: policy, productID: UInt16(productID), svn: UInt16(svn), tcbLevel: UInt32(tcbLevel),
                    keyID: keyID)
            } catch {
                throw Self.malformed("has an invalid key request: \(error)")
            }
            self.request = request
            self.counter = counter
            self.nonce = nonce
            self.sealed = bytes[sealed]
            self.leadingFields = leadingFields
        } catch let error as SealingError {
            throw error
        } catch let error as CBORError {
            throw SealingError(
                .malformedBlob, "sealed blob is not canonical CBOR of the expected layout: \(error.reason)")
        } catch {
            throw SealingError(.malformedBlob, "sealed blob: \(error)")
        }
    }

    /// The canonical encoding.
    public func encoded() throws -> [UInt8] {
        var writer = CBORWriter(reservingCapacity: 192 + sealed.count)
        writer.writeEncoded(framePrefix(sealedByteCount: sealed.count))
        writer.writeEncoded(sealed)
        writer.writeEncoded(frameSuffix)
        return writer.bytes
    }

    /// The associated data: the canonical encoding of every field but "ciphertext".
    public func header() -> [UInt8] {
        let suffix = frameSuffix
        var header = [UInt8]()
        header.reserveCapacity(1 + leadingFields.count + suffix.count)
        header.append(Self.mapHead(entries: counter == nil ? 7 : 8))
        header += leadingFields
        header += suffix
        return header
    }

    /// Everything the encoding holds before the ciphertext's contents (for `sealedByteCount` bytes of them).
    package func framePrefix(sealedByteCount: Int) -> [UInt8] {
        var prefix = CBORWriter(reservingCapacity: leadingFields.count + 24)
        prefix.writeEncoded([Self.mapHead(entries: counter == nil ? 8 : 9)])
        prefix.writeEncoded(leadingFields)
        prefix.writeText("ciphertext")
        prefix.writeHead(major: 2, argument: UInt64(sealedByteCount))
        return prefix.bytes
    }

    /// Everything the encoding holds after the ciphertext.
    package var frameSuffix: [UInt8] {
        var writer = CBORWriter(reservingCapacity: 16)
        writer.writeText("product_id")
        writer.writeHead(major: 0, argument: UInt64(request.productID))
        return writer.bytes
    }

    /// The one-byte head of a map of fewer than 24 entries.
    private static func mapHead(entries: UInt8) -> UInt8 { 0xa0 | entries }

    private static func writeFieldsBeforeCiphertext(
        request: KeyRequest, counter: MonotonicCounter?, nonce: [UInt8], into writer: inout CBORWriter
    ) {
        writer.writeText("v")
        writer.writeHead(major: 0, argument: Self.version)
        writer.writeText("svn")
        writer.writeHead(major: 0, argument: UInt64(request.svn))
        writer.writeText("nonce")
        writer.writeByteString(nonce)
        writer.writeText("key_id")
        writer.writeByteString(request.keyID)
        writer.writeText("policy")
        writer.writeText(request.policy.rawValue)
        if let counter {
            writer.writeText("counter")
            writer.writeHead(major: 5, argument: 2)
            writer.writeText("id")
            writer.writeByteString(counter.id)
            writer.writeText("value")
            writer.writeHead(major: 0, argument: counter.value)
        }
        writer.writeText("tcb_level")
        writer.writeHead(major: 0, argument: UInt64(request.tcbLevel))
    }

    private static func expect(_ key: String, _ cursor: inout CBORCursor) throws {
        guard try cursor.readText(equals: key) else {
            throw malformed("has another field where the canonical layout has \"\(key)\"")
        }
    }

    private static func malformed(_ problem: String) -> SealingError {
        SealingError(.malformedBlob, "sealed blob \(problem)")
    }
}
