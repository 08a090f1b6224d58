internal import CEnclaveSandbox
import Glibc
import Synchronization

/// Memory for secrets: anonymous pages locked in RAM, excluded from core dumps, zeroed in forked children, and
/// wiped before they are returned to the kernel.
///
/// Locking (`mlock`) can fail under `RLIMIT_MEMLOCK`; the region is still usable and `isLocked` says so. Access goes
/// through closures under a lock, so a region can be shared between threads.
public final class LockedRegion: Sendable {
    /// The usable size in bytes.
    public let byteCount: Int
    /// Whether the pages are locked in RAM (never swapped out).
    public let isLocked: Bool

    /// Page-aligned start and length of the mapping; only touched while `isOpen` is locked and true.
    private nonisolated(unsafe) let address: UnsafeMutableRawPointer
    private let length: Int
    private let isOpen = Mutex(true)

    /// Maps `byteCount` zeroed bytes (rounded up to whole pages).
    public init(byteCount: Int) throws {
        precondition(byteCount > 0, "a locked region needs at least one byte")
        let page = sysconf(Int32(_SC_PAGESIZE))
        let length = (byteCount + page - 1) / page * page
        var locked: Int32 = 0
        guard let address = cloister_secret_map(length, &locked) else {
            throw LaunchError.systemCall("mmap/madvise", "of a \(length)-byte secret region")
        }
        self.byteCount = byteCount
        self.isLocked = locked != 0
        self.address = address
        self.length = length
    }

    deinit { close() }

    /// This process's soft `RLIMIT_MEMLOCK` in bytes, nil when unlimited: the most it can lock without privilege.
    public static var memoryLockLimit: UInt64? {
        let limit = cloister_memory_lock_limit()
        return limit == .max ? nil : limit
    }

    /// Why locking `byteCount` bytes failed under this process's limits, for a warning: it names `RLIMIT_MEMLOCK`, its
    /// current value and the bytes asked, and how to raise it.
    public static func lockRefusal(byteCount: UInt64) -> String {
        guard let limit = memoryLockLimit, limit < byteCount else {
            let limit = memoryLockLimit.map { "\($0) bytes" } ?? "unlimited"
            return "mlock of \(byteCount) bytes failed within RLIMIT_MEMLOCK (\(limit)): the system could not lock "
                + "that much memory, so sealed memory may be swapped"
        }
        return "mlock of \(byteCount) bytes exceeds RLIMIT_MEMLOCK (\(limit) bytes), so sealed memory may be "
            + "swapped; raise the limit (ulimit -l, systemd LimitMEMLOCK=), or launch with CAP_SYS_RESOURCE, with "
            + "which the platform raises it for the enclave"
    }

    /// The mechanism this region provides, for a quote: locked regions, or nothing when the pages could not be locked.
    public var mechanisms: Set<IsolationMechanism> { isLocked ? [.lockedRegions] : [] }

    /// Calls `body` with the region's bytes; fails once the region is closed.
    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) throws -> R {
        try isOpen.withLock { isOpen in
            guard isOpen else { throw LaunchError(.regionClosed, "the \(byteCount)-byte locked region was closed") }
            return try body(UnsafeMutableRawBufferPointer(start: address, count: byteCount))
        }
    }

    /// Calls `body` with the region's bytes, read-only; fails once the region is closed.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try withUnsafeMutableBytes { try body(UnsafeRawBufferPointer($0)) }
    }

    /// Zeroes the region (a write the compiler cannot remove) and keeps it usable.
    public func wipe() {
        isOpen.withLock { isOpen in
            if isOpen { cloister_secret_wipe(address, length) }
        }
    }

    /// Wipes, unlocks and unmaps the region; later access fails. Called by `deinit` if not before.
    public func close() {
        isOpen.withLock { isOpen in
            guard isOpen else { return }
            cloister_secret_unmap(address, length, isLocked ? 1 : 0)
            isOpen = false
        }
    }
}
