import EnclaveProtocol
import Glibc
import Synchronization

/// Where evicted sealed pages go: storage the host can read and modify, so everything in it is encrypted and
/// authenticated by the enclave before it is written and verified after it is read.
///
/// A store keeps fixed-size records in numbered slots, one area per region name.
public protocol BackingStore: Sendable {
    /// Stores `record` in `slot` of `region`'s area, replacing what was there.
    func write(_ record: [UInt8], region: String, slot: Int) throws
    /// The `byteCount`-byte record in `slot` of `region`'s area, or `nil` when the slot holds fewer bytes.
    func read(region: String, slot: Int, byteCount: Int) throws -> [UInt8]?
}

/// A backing store in a host directory: one file per region, `<region>.pages`, with slot `i` at byte
/// `i * recordByteCount`.
public final class FileBackingStore: BackingStore {
    /// The directory holding the region files.
    public let directory: String
    private let descriptors = Mutex<[String: Int32]>([:])

    /// A store in `directory`, created (mode 0700) when missing.
    public init(directory: String) throws {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw PersistenceError.systemCall("mkdir", directory)
        }
        self.directory = directory
    }

    deinit {
        descriptors.withLock { descriptors in
            for descriptor in descriptors.values { Glibc.close(descriptor) }
        }
    }

    /// The path of `region`'s file.
    public func path(forRegion region: String) -> String {
        directory + "/" + region + ".pages"
    }

    public func write(_ record: [UInt8], region: String, slot: Int) throws {
        let descriptor = try descriptor(for: region)
        let offset = slot * record.count
        var written = 0
        while written < record.count {
            let count = record.withUnsafeBytes {
                pwrite(descriptor, $0.baseAddress! + written, $0.count - written, off_t(offset + written))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw PersistenceError.systemCall("pwrite", path(forRegion: region)) }
            written += count
        }
    }

    public func read(region: String, slot: Int, byteCount: Int) throws -> [UInt8]? {
        let descriptor = try descriptor(for: region)
        var record = [UInt8](repeating: 0, count: byteCount)
        var filled = 0
        while filled < byteCount {
            let count = record.withUnsafeMutableBytes {
                pread(descriptor, $0.baseAddress! + filled, $0.count - filled, off_t(slot * byteCount + filled))
            }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw PersistenceError.systemCall("pread", path(forRegion: region)) }
            if count == 0 { return nil }
            filled += count
        }
        return record
    }

    private func descriptor(for region: String) throws -> Int32 {
        try descriptors.withLock { descriptors in
            if let descriptor = descriptors[region] { return descriptor }
            let path = path(forRegion: region)
            let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw PersistenceError.systemCall("open", path) }
            descriptors[region] = descriptor
            return descriptor
        }
    }
}
