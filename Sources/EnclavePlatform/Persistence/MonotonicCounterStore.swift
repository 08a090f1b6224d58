import CloisterCBOR
import CloisterCrypto
public import EnclaveProtocol
import Glibc
import Synchronization

/// The platform's monotonic counters, one file per counter (`<hex id>.counter`, deterministic CBOR) in a directory
/// only the platform reads, each written with `AtomicFile` so a crash leaves the last persisted value.
///
/// A counter belongs to the signer and product id of the enclave that created it, so later versions of the same
/// product keep using it; the enclave deletes it when its job is done. Every record carries an HMAC-SHA256 under a key
/// derived from the device secret, so a counter file rewritten outside the platform (another value, another owner, a
/// record made up) is refused when read. The MAC cannot tell an older record of the same counter from the current one:
/// rollback protection rests on nobody but the platform writing the home (DESIGN.md invariant 6). Opening the store
/// removes temporary files left by writers that were killed.
public final class MonotonicCounterStore: Sendable {
    static let fileExtension = ".counter"

    /// The directory holding the counter files.
    public let directory: String
    /// Serialises read-modify-write of counters within this process.
    private let lock = Mutex(())
    /// The key of the records' MACs.
    private let authenticationKey: [UInt8]

    /// Opens (creating it with mode 0700 if absent) the store in `directory`, whose records are authenticated with
    /// `authenticationKey`, and removes stale temporary files.
    /// Several processes may share a store: every operation holds an exclusive `flock` on the directory.
    public init(directory: String, authenticationKey: [UInt8]) throws(PersistenceError) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw .systemCall("mkdir", directory)
        }
        self.directory = directory
        self.authenticationKey = authenticationKey
        do {
            _ = try exclusively { try AtomicFile.removeStaleTemporaries(in: directory) }
        } catch let error as PersistenceError {
            throw error
        } catch {
            throw PersistenceError(.systemCall, "\(directory): \(error)")
        }
    }

    /// Runs `body` holding this store's lock and an exclusive `flock` on its directory (other processes).
    private func exclusively<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock { _ in
            let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard descriptor >= 0 else { throw PersistenceError.systemCall("open", directory) }
            defer { close(descriptor) }
            while flock(descriptor, LOCK_EX) != 0 {
                guard errno == EINTR else { throw PersistenceError.systemCall("flock", directory) }
            }
            return try body()
        }
    }

    /// Creates a counter at value 0, owned by `owner`'s signer and product id.
    public func create(owner: EnclaveIdentity) throws -> MonotonicCounter {
        let id = try SecureRandom.bytes(count: MonotonicCounter.idByteCount)
        let record = CounterRecord(id: id, signer: owner.signer, productID: owner.productID, value: 0)
        try exclusively {
            let file = self.file(for: id)
            guard !file.exists else { throw PersistenceError(.corrupt, "counter file \(file.path) already exists") }
            try file.write(record.encoded(authenticationKey: authenticationKey))
        }
        return MonotonicCounter(id: id, value: 0)
    }

    /// The current value of counter `id`, which `caller` must own.
    public func read(_ id: [UInt8], for caller: EnclaveIdentity) throws -> MonotonicCounter {
        try exclusively {
            let record = try load(id, for: caller)
            return MonotonicCounter(id: id, value: record.value)
        }
    }

    /// Adds one to counter `id` and returns the new value, which is on disk when this returns.
    public func increment(_ id: [UInt8], for caller: EnclaveIdentity) throws -> MonotonicCounter {
        try exclusively {
            var record = try load(id, for: caller)
            guard record.value < UInt64.max else {
                throw PersistenceError(.counterExhausted, "counter \(hexEncoded(id)) is at its maximum value")
            }
            record.value += 1
            try file(for: id).write(record.encoded(authenticationKey: authenticationKey))
            return MonotonicCounter(id: id, value: record.value)
        }
    }

    /// Deletes counter `id`, which `caller` must own: state sealed against it can no longer be opened.
    public func delete(_ id: [UInt8], for caller: EnclaveIdentity) throws {
        try exclusively {
            _ = try load(id, for: caller)
            try file(for: id).remove()
        }
    }

    private func file(for id: [UInt8]) -> AtomicFile {
        AtomicFile(path: directory + "/" + hexEncoded(id) + Self.fileExtension, mode: 0o600)
    }

    private func load(_ id: [UInt8], for caller: EnclaveIdentity) throws -> CounterRecord {
        guard id.count == MonotonicCounter.idByteCount else {
            throw PersistenceError(
                .unknownCounter, "counter id is \(id.count) bytes, expected \(MonotonicCounter.idByteCount)")
        }
        let file = file(for: id)
        guard file.exists else {
            throw PersistenceError(.unknownCounter, "no counter \(hexEncoded(id)) in \(directory)")
        }
        let bytes = try file.read()
        let record = try CounterRecord(decoding: bytes, path: file.path, authenticationKey: authenticationKey)
        guard record.id == id else {
            throw PersistenceError(.corrupt, "counter file \(file.path) holds counter \(hexEncoded(record.id))")
        }
        guard record.signer == caller.signer && record.productID == caller.productID else {
            throw PersistenceError(
                .notOwner, "counter \(hexEncoded(id)) belongs to another signer or product id")
        }
        return record
    }
}

/// The contents of one counter file: the record and its MAC, `{id, signer, product_id, value, mac}`.
struct CounterRecord {
    let id: [UInt8]
    let signer: [UInt8]
    let productID: UInt16
    var value: UInt64

    init(id: [UInt8], signer: [UInt8], productID: UInt16, value: UInt64) {
        self.id = id
        self.signer = signer
        self.productID = productID
        self.value = value
    }

    init(decoding bytes: [UInt8], path: String, authenticationKey: [UInt8]) throws(PersistenceError) {
        let corrupt = PersistenceError(.corrupt, "counter file \(path) is not a valid counter record")
        guard let map = try? CBORDecoder().decode(bytes), map.mapValue?.count == 5,
            let id = map["id"]?.bytesValue, let signer = map["signer"]?.bytesValue,
            let productID = map["product_id"]?.uint64Value, productID <= UInt16.max,
            let value = map["value"]?.uint64Value, let mac = map["mac"]?.bytesValue
        else { throw corrupt }
        self.init(id: id, signer: signer, productID: UInt16(productID), value: value)
        let authenticated = try? CBORValue.map(fields).encoded()
        guard let authenticated,
            (try? HMAC.isValidAuthenticationCode(mac, for: authenticated, key: authenticationKey, digest: .sha256))
                == true
        else {
            throw PersistenceError(
                .tampered, "counter file \(path) fails its MAC: it was written outside the platform")
        }
    }

    /// The authenticated fields.
    private var fields: [CBORMapEntry] {
        [
            CBORMapEntry("id", .bytes(id)), CBORMapEntry("signer", .bytes(signer)),
            CBORMapEntry("product_id", .unsigned(UInt64(productID))), CBORMapEntry("value", .unsigned(value)),
        ]
    }

    func encoded(authenticationKey: [UInt8]) throws -> [UInt8] {
        let mac = try HMAC.authenticationCode(
            for: CBORValue.map(fields).encoded(), key: authenticationKey, digest: .sha256)
        return try CBORValue.map(fields + [CBORMapEntry("mac", .bytes(mac))]).encoded()
    }
}
