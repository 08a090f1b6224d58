import CloisterCrypto
import CloisterErrors
import Glibc

/// A file replaced as a whole: readers see either the previous complete contents or the new ones, never a mix,
/// even when the writer is killed or the machine loses power mid-write.
///
/// `write` creates a temporary file `.tmp-<name>-<random>` beside the target (`O_EXCL`, the given mode), writes
/// everything, `fsync`s it, renames it over the target and `fsync`s the directory. A failed write removes its
/// temporary file; a write killed before the rename leaves one behind, which `removeStaleTemporaries(in:)` deletes
/// (owners of a directory, such as `MonotonicCounterStore`, call it when they open it).
public struct AtomicFile: Sendable, Hashable {
    /// The prefix of temporary files, which therefore never collide with a target name that lacks it.
    public static let temporaryPrefix = ".tmp-"

    /// The target path.
    public let path: String
    /// The permission bits of the written file, applied exactly (the umask does not narrow them).
    public let mode: UInt32

    public init(path: String, mode: UInt32 = 0o600) {
        self.path = path
        self.mode = mode
    }

    /// The directory holding the target ("." for a bare name).
    public var directory: String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The last path component of the target.
    public var name: String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// Replaces the file's contents with `bytes`, durably; on failure the target is unchanged and no temporary remains
    /// (except when only the final directory `fsync` fails: the new contents are then in place but may not survive a
    /// power loss).
    public func write(_ bytes: [UInt8]) throws(PersistenceError) {
        let suffix: [UInt8]
        do {
            suffix = try SecureRandom.bytes(count: 8)
        } catch {
            throw PersistenceError(.systemCall, "random name for a temporary file beside \(path): \(error)")
        }
        let temporary = directory + "/" + Self.temporaryPrefix + name + "-" + hexEncoded(suffix)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode_t(mode))
        guard descriptor >= 0 else { throw .systemCall("open(O_CREAT|O_EXCL)", temporary) }
        var renamed = false
        var descriptorOpen = true
        defer {
            if descriptorOpen { close(descriptor) }
            if !renamed { unlink(temporary) }
        }
        guard fchmod(descriptor, mode_t(mode)) == 0 else { throw .systemCall("fchmod", temporary) }
        try writeAll(bytes, to: descriptor, temporary)
        guard fsync(descriptor) == 0 else { throw .systemCall("fsync", temporary) }
        descriptorOpen = false
        guard close(descriptor) == 0 else { throw .systemCall("close", temporary) }
        guard rename(temporary, path) == 0 else {
            let error = errno
            throw PersistenceError(
                .systemCall, "rename \(temporary) to \(path): \(errnoText(error))", errno: error)
        }
        renamed = true
        try Self.syncDirectory(directory)
    }

    /// The file's complete contents (the last version a `write` finished renaming into place).
    public func read() throws(PersistenceError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .systemCall("open", path) }
        defer { close(descriptor) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw .systemCall("read", path) }
            if count == 0 { return output }
            output += chunk[..<count]
        }
    }

    /// Whether the target exists.
    public var exists: Bool { access(path, F_OK) == 0 }

    /// Deletes the target, durably (a missing target is not an error).
    public func remove() throws(PersistenceError) {
        guard unlink(path) == 0 || errno == ENOENT else { throw .systemCall("unlink", path) }
        try Self.syncDirectory(directory)
    }

    /// Deletes temporary files that killed writers left in `directory`; returns how many it removed.
    /// Call it only while no other process writes into the directory.
    @discardableResult
    public static func removeStaleTemporaries(in directory: String) throws(PersistenceError) -> Int {
        try removeTemporaries(in: directory, prefix: temporaryPrefix)
    }

    /// Deletes the temporary files that killed writers of this target left beside it; returns how many it removed.
    /// Call it only while no other process writes this target.
    @discardableResult
    public func removeStaleTemporaries() throws(PersistenceError) -> Int {
        try Self.removeTemporaries(in: directory, prefix: Self.temporaryPrefix + name + "-")
    }

    private static func removeTemporaries(in directory: String, prefix: String) throws(PersistenceError) -> Int {
        var removed = 0
        for entry in try entries(of: directory) where entry.hasPrefix(prefix) {
            let path = directory + "/" + entry
            guard unlink(path) == 0 || errno == ENOENT else { throw .systemCall("unlink", path) }
            removed += 1
        }
        if removed > 0 { try syncDirectory(directory) }
        return removed
    }

    /// The names in `directory`, without "." and "..".
    public static func entries(of directory: String) throws(PersistenceError) -> [String] {
        guard let stream = opendir(directory) else { throw .systemCall("opendir", directory) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Makes the directory's entries (a rename, a removal) durable.
    package static func syncDirectory(_ directory: String) throws(PersistenceError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .systemCall("open(O_DIRECTORY)", directory) }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw .systemCall("fsync", directory) }
    }

    private func writeAll(_ bytes: [UInt8], to descriptor: Int32, _ temporary: String) throws(PersistenceError) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { throw .systemCall("write", temporary) }
            offset += count
        }
    }
}
