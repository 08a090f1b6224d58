import Foundation
import Glibc

/// A process started with `posix_spawn` (no fork from Swift), its standard output discarded.
public struct ChildProcess: Sendable {
    public let pid: pid_t

    /// Starts `executable` with argv `[executable] + arguments`; `descriptors` maps a child fd number to the
    /// parent's descriptor it duplicates. Every other close-on-exec descriptor stays behind.
    public init(executable: String, arguments: [String], descriptors: [Int32: Int32] = [:]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        // glibc (2.29 and later) clears close-on-exec when a descriptor is duplicated onto its own number.
        for (child, parent) in descriptors {
            posix_spawn_file_actions_adddup2(&actions, parent, child)
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
        self.pid = pid
    }

    /// Waits for the process to end and returns its raw wait status.
    public func wait() throws -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        }
        return status
    }
}
