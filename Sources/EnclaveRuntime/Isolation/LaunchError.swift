import Glibc

/// Why measuring, launching or hardening an enclave failed: a stable `code` for programs, a `reason` for people.
public struct LaunchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable identifier of the failure kind.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The executable is missing, unreadable or not a regular file.
        public static let invalidExecutable = Code(rawValue: "invalid-executable")
        /// A system call the launcher depends on failed.
        public static let systemCall = Code(rawValue: "system-call")
        /// The child could not be hardened or could not execute the image.
        public static let spawnFailed = Code(rawValue: "spawn-failed")
        /// A Landlock rule could not be built (missing path, rejected rule).
        public static let landlock = Code(rawValue: "landlock")
        /// A seccomp allow-list names a syscall this architecture does not have.
        public static let unknownSyscall = Code(rawValue: "unknown-syscall")
        /// The seccomp filter could not be installed.
        public static let seccomp = Code(rawValue: "seccomp")
        /// The enclave process started without the hardening its launcher must apply.
        public static let notHardened = Code(rawValue: "not-hardened")
        /// A locked region was used after `close()`.
        public static let regionClosed = Code(rawValue: "region-closed")
        /// The enclave's channel ends were already given to another process.
        public static let endpointsTaken = Code(rawValue: "endpoints-taken")
    }

    public let code: Code
    /// What failed, naming the path, syscall and errno text where there is one.
    public let reason: String
    /// The errno behind the failure, when a system call failed.
    public let errno: Int32?

    public init(_ code: Code, _ reason: String, errno: Int32? = nil) {
        self.code = code
        self.reason = reason
        self.errno = errno
    }

    public var description: String { "\(code): \(reason)" }

    /// A failed system call: "`call`: `context`: <errno text> (errno N)".
    static func systemCall(
        _ call: String, _ context: String? = nil, errno error: Int32 = Glibc.errno,
        code: Code = .systemCall
    ) -> LaunchError {
        let subject = context.map { "\(call) \($0)" } ?? call
        return LaunchError(code, "\(subject): \(errnoText(error))", errno: error)
    }
}

/// "Permission denied (errno 13)".
func errnoText(_ error: Int32) -> String {
    "\(String(cString: strerror(error))) (errno \(error))"
}
