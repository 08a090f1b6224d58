public import CloisterErrors
import Glibc

/// Why measuring, launching or hardening an enclave failed: a stable `code` for programs, a `reason` for people.
public struct LaunchError: CodedError {
    public typealias Code = ErrorCode<LaunchError>

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

    /// A failed system call: "`call`: `context`: <errno text> (errno N)".
    package static func systemCall(
        _ call: String, _ context: String? = nil, errno error: Int32 = Glibc.errno,
        code: Code = .systemCall
    ) -> LaunchError {
        let subject = context.map { "\(call) \($0)" } ?? call
        return LaunchError(code, "\(subject): \(errnoText(error))", errno: error)
    }
}

extension ErrorCode where Domain == LaunchError {
    /// The executable is missing, unreadable or not a regular file.
    public static let invalidExecutable = Self("invalid-executable")
    /// A system call the launcher depends on failed.
    public static let systemCall = Self("system-call")
    /// The child could not be hardened or could not execute the image.
    public static let spawnFailed = Self("spawn-failed")
    /// A Landlock rule could not be built (missing path, rejected rule).
    public static let landlock = Self("landlock")
    /// A seccomp allow-list names a syscall this architecture does not have.
    public static let unknownSyscall = Self("unknown-syscall")
    /// The seccomp filter could not be installed.
    public static let seccomp = Self("seccomp")
    /// The enclave process started without the hardening its launcher must apply.
    public static let notHardened = Self("not-hardened")
    /// A locked region was used after `close()`.
    public static let regionClosed = Self("region-closed")
    /// The environment sets a loader variable (`EnclaveEnvironment.isLoaderVariable(_:)`).
    public static let loaderVariable = Self("loader-variable")
    /// The enclave's channel ends were already given to another process.
    public static let endpointsTaken = Self("endpoints-taken")
}
