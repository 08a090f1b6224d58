internal import CEnclaveSandbox
import Glibc

/// An open file descriptor with one owner: it is closed when the last reference goes away.
///
/// Descriptors the runtime creates are close-on-exec, so no other process started by this one inherits them by
/// accident; an enclave receives its channels only through `EnclaveProcess.spawn`.
public final class FileDescriptor: Sendable, CustomStringConvertible {
    /// The kernel's descriptor number, valid while this object is alive.
    public let rawValue: Int32

    /// Takes ownership of `rawValue`, which nothing else may close.
    public init(adopting rawValue: Int32) {
        precondition(rawValue >= 0, "invalid file descriptor \(rawValue)")
        self.rawValue = rawValue
    }

    deinit { Glibc.close(rawValue) }

    public var description: String { "fd \(rawValue)" }

    /// A second descriptor (close-on-exec) for the same open file.
    public func duplicate() throws -> FileDescriptor {
        let copy = fcntl(rawValue, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw ChannelError.systemCall("fcntl(F_DUPFD_CLOEXEC) of fd \(rawValue)") }
        return FileDescriptor(adopting: copy)
    }

    /// Releases the open file (a socket handed to another process, say) while keeping the number valid until this
    /// object goes away: `/dev/null` takes its place atomically (`dup2`, then close-on-exec again), so only the other
    /// holders keep the file.
    public func release() throws {
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw ChannelError.systemCall("open('/dev/null')") }
        defer { Glibc.close(null) }
        guard dup2(null, rawValue) == rawValue, fcntl(rawValue, F_SETFD, FD_CLOEXEC) == 0 else {
            throw ChannelError.systemCall("dup2 over fd \(rawValue)")
        }
    }

    /// A new pipe, both ends close-on-exec.
    public static func pipe() throws -> (read: FileDescriptor, write: FileDescriptor) {
        var ends: [Int32] = [-1, -1]
        guard cloister_pipe(&ends) == 0 else { throw ChannelError.systemCall("pipe2") }
        return (FileDescriptor(adopting: ends[0]), FileDescriptor(adopting: ends[1]))
    }
}
