internal import CEnclaveSandbox
import CloisterCrypto
import EnclaveProtocol

/// A region's page key and identity: seals evicted pages for the backing store and verifies them on the way back.
///
/// A stored page is `header || AES-256-GCM(page) || tag`, `recordByteCount` bytes. The header (region id, page index,
/// version, 32 bytes) is informational only: opening always uses the (region, index, version) the enclave expects,
/// bound as associated data, and the header is consulted after a failure to say which check failed. The nonce is
/// (page index, version); versions come from one counter per region, so no nonce is ever used twice under a key.
final class RegionSealer: Sendable {
    static let idByteCount = 16
    static let headerByteCount = idByteCount + 8 + 8
    static let recordByteCount = headerByteCount + EnclaveMemory.pageSize + AESGCMKey.tagByteCount
    private static let domain = Array("cloister.sealed-page.v1".utf8) + [0]

    /// The region's name.
    let name: String
    /// A random id, unique to this region in this enclave run.
    let id: [UInt8]
    /// The raw key, kept in locked memory for the region's lifetime.
    private let keyMaterial: LockedRegion
    private let key: AESGCMKey

    /// A region sealer with a fresh random id and AES-256 key.
    init(name: String) throws {
        self.name = name
        var id: [UInt8]
        repeat { id = try SecureRandom.bytes(count: Self.idByteCount) } while id.allSatisfy { $0 == 0 }
        self.id = id
        keyMaterial = try LockedRegion(byteCount: 32)
        var bytes = try SecureRandom.bytes(count: 32)
        defer { bytes.withUnsafeMutableBytes { cloister_secret_wipe($0.baseAddress, $0.count) } }
        try keyMaterial.withUnsafeMutableBytes { locked in bytes.withUnsafeBytes { locked.copyMemory(from: $0) } }
        key = try keyMaterial.withUnsafeBytes { try AESGCMKey($0) }
    }

    /// Encrypts `page` as page `index` at `version` into a store record.
    func seal(_ page: UnsafeRawBufferPointer, index: Int, version: UInt64) throws -> [UInt8] {
        let ciphertext = try key.seal(
            page, nonce: Self.nonce(index: index, version: version),
            associatedData: associatedData(index: index, version: version))
        return header(index: index, version: version) + ciphertext
    }

    /// Verifies `record` as page `index` at `version` and decrypts it into `page`; throws an `IntegrityFault` naming
    /// the failed check when the record is missing, altered, from another page or region, or an older version.
    func open(_ record: [UInt8]?, into page: UnsafeMutableRawBufferPointer, index: Int, version: UInt64) throws {
        // A random id is never all zeros: such a header is a hole in the store, not a page.
        guard let record, record.count == Self.recordByteCount, record[..<Self.idByteCount].contains(where: { $0 != 0 })
        else {
            throw IntegrityFault(
                .missing, region: name, page: index,
                "page \(index) of region '\(name)' was evicted at version \(version) but its slot is missing, short "
                    + "or empty")
        }
        let body = record[Self.headerByteCount...]
        guard var plaintext = try? openBody(body, index: index, version: version) else {
            throw diagnose(record, index: index, version: version)
        }
        defer { plaintext.withUnsafeMutableBytes { cloister_secret_wipe($0.baseAddress, $0.count) } }
        plaintext.withUnsafeBytes { page.copyMemory(from: $0) }
    }

    private func openBody(_ body: ArraySlice<UInt8>, index: Int, version: UInt64) throws -> [UInt8] {
        try key.open(
            body, nonce: Self.nonce(index: index, version: version),
            associatedData: associatedData(index: index, version: version))
    }

    /// Names the check a record failed, trusting the header only as far as the region key proves it.
    private func diagnose(_ record: [UInt8], index: Int, version: UInt64) -> IntegrityFault {
        let claimedID = Array(record[..<Self.idByteCount])
        let claimedIndex = Self.bigEndian(record[Self.idByteCount..<(Self.idByteCount + 8)])
        let claimedVersion = Self.bigEndian(record[(Self.idByteCount + 8)..<Self.headerByteCount])
        let slot = "page \(index) of region '\(name)' (expected version \(version))"
        guard claimedID == id else {
            return IntegrityFault(
                .foreignRegion, region: name, page: index,
                "\(slot) holds a page sealed by another region (id \(hexEncoded(claimedID))): it does not authenticate")
        }
        if claimedIndex < UInt64(UInt32.max),
            var other = try? openBody(
                record[Self.headerByteCount...], index: Int(claimedIndex), version: claimedVersion)
        {
            other.withUnsafeMutableBytes { cloister_secret_wipe($0.baseAddress, $0.count) }
            if claimedIndex != UInt64(index) {
                return IntegrityFault(
                    .swapped, region: name, page: index,
                    "\(slot) holds page \(claimedIndex) at version \(claimedVersion), copied over it")
            }
            return IntegrityFault(
                .replayed, region: name, page: index,
                "\(slot) holds the same page at version \(claimedVersion): a replayed stale copy")
        }
        return IntegrityFault(
            .tampered, region: name, page: index,
            "\(slot) fails authentication: its ciphertext, tag or header was altered")
    }

    private func header(index: Int, version: UInt64) -> [UInt8] {
        id + Self.bigEndianBytes(UInt64(index)) + Self.bigEndianBytes(version)
    }

    private func associatedData(index: Int, version: UInt64) -> [UInt8] {
        let nameBytes = Array(name.utf8)
        return Self.domain + id + Self.bigEndianBytes(UInt64(nameBytes.count)) + nameBytes
            + Self.bigEndianBytes(UInt64(index)) + Self.bigEndianBytes(version)
    }

    private static func nonce(index: Int, version: UInt64) -> [UInt8] {
        Array(bigEndianBytes(UInt64(UInt32(index)))[4...]) + bigEndianBytes(version)
    }

    private static func bigEndianBytes(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    private static func bigEndian(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
