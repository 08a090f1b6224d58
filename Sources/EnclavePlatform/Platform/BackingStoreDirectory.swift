import EnclaveProtocol
import Foundation

/// The host-visible directory of one enclave's evicted pages (ciphertext only): a fresh 0700
/// `$TMPDIR/cloister-sealed-pages-<enclave id>` that the platform holds an exclusive `flock` on while the enclave lives.
///
/// A platform killed with its enclave cannot remove the directory, but its lock goes with it: every launch first
/// removes the directories of this user whose lock nobody holds.
final class BackingStoreDirectory: Sendable {
    static let prefix = "cloister-sealed-pages-"

    let path: String
    /// The open directory holding the lock.
    private let lock: FileDescriptor

    /// Creates and locks the directory for `enclaveID`, after removing the ones dead platforms left.
    init(enclaveID: String) throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        Self.removeAbandoned(in: base)
        path = "\(base)/\(Self.prefix)\(enclaveID)"
        guard mkdir(path, 0o700) == 0 else {
            throw LaunchError.systemCall("mkdir", "'\(path)' (sealed-memory backing store)")
        }
        guard let descriptor = Self.lockedDirectory(path, blocking: true) else {
            try? FileManager.default.removeItem(atPath: path)
            throw LaunchError.systemCall("flock", "'\(path)' (sealed-memory backing store)")
        }
        lock = descriptor
    }

    /// Removes the directory (its lock goes when this object does).
    func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Whether `name` is a backing store's: the prefix and an enclave id (16 lowercase hex digits), nothing else.
    static func isBackingStoreName(_ name: String) -> Bool {
        guard name.hasPrefix(prefix) else { return false }
        let id = name.utf8.dropFirst(prefix.utf8.count)
        return id.count == 16 && id.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Removes every backing-store directory in `base` owned by this user that no platform holds locked.
    static func removeAbandoned(in base: String) {
        guard let entries = try? AtomicFile.entries(of: base) else { return }
        for entry in entries where isBackingStoreName(entry) {
            let path = base + "/" + entry
            var status = stat()
            guard lstat(path, &status) == 0, status.st_mode & S_IFMT == S_IFDIR, status.st_uid == geteuid(),
                let descriptor = lockedDirectory(path, blocking: false)
            else { continue }
            withExtendedLifetime(descriptor) { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    /// `path` opened and locked exclusively, or nil when it cannot be (held by a live platform, when not `blocking`).
    private static func lockedDirectory(_ path: String, blocking: Bool) -> FileDescriptor? {
        let raw = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard raw >= 0 else { return nil }
        let descriptor = FileDescriptor(adopting: raw)
        while flock(raw, LOCK_EX | (blocking ? 0 : LOCK_NB)) != 0 {
            guard errno == EINTR else { return nil }
        }
        return descriptor
    }
}
