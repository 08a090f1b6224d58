internal import CEnclaveSandbox

/// A seccomp allow-list resolved to this architecture's syscall numbers (x86_64).
///
/// Installed, it kills the process for a syscall of a foreign ABI (another architecture, or x32), allows the listed
/// syscalls, and fails every other one with `EPERM` rather than killing: the Swift runtime and libc probe optional
/// syscalls and cope with an error, so a missing entry shows up as a failing call, not a dead enclave.
public struct SeccompFilter: Sendable, Hashable {
    /// The allowed syscall names, as given.
    public let allowedSyscalls: [String]
    /// Their numbers on this architecture, in the same order.
    public let syscallNumbers: [Int32]

    /// Resolves `allowedSyscalls`; an unknown name is an error naming it.
    public init(allowing allowedSyscalls: [String]) throws {
        guard cloister_seccomp_supported() != 0 else {
            throw LaunchError(.seccomp, "seccomp allow-lists are only supported on x86_64")
        }
        self.allowedSyscalls = allowedSyscalls
        self.syscallNumbers = try allowedSyscalls.map { name in
            let number = cloister_syscall_number(name)
            guard number >= 0 else {
                throw LaunchError(
                    .unknownSyscall, "the seccomp allow-list names '\(name)', which is not an x86_64 syscall")
            }
            return number
        }
    }

    /// Installs the filter on every thread of this process; it cannot be removed. Requires no_new_privs.
    package func install() throws {
        let status = syscallNumbers.withUnsafeBufferPointer {
            cloister_seccomp_install($0.baseAddress, $0.count)
        }
        guard status == 0 else { throw LaunchError.systemCall("seccomp(SECCOMP_SET_MODE_FILTER)", code: .seccomp) }
    }
}

/// The hardening an enclave executable applies to itself first thing, because exec resets it or because it must be
/// confirmed from inside: the process becomes non-dumpable, the launcher's limits are checked, and an optional
/// seccomp allow-list is installed.
public enum EnclaveSelfHardening {
    /// Applies the hardening and returns what it applied or confirmed.
    ///
    /// Sets `PR_SET_DUMPABLE` 0 (same-user `ptrace` and `/proc/PID/mem` then fail), requires `RLIMIT_CORE` 0,
    /// `no_new_privs` and empty capability sets (set by `EnclaveProcess.spawn`; their absence means the process was
    /// not launched by the platform, which is an error), then installs `SeccompFilter(allowing: seccompAllowList)`
    /// when given. The allow-list is resolved before anything changes, so an unknown name leaves the process
    /// untouched.
    @discardableResult
    public static func apply(seccompAllowList: [String]? = nil) throws -> Set<IsolationMechanism> {
        let filter = try seccompAllowList.map(SeccompFilter.init(allowing:))
        guard cloister_set_not_dumpable() == 0 else { throw LaunchError.systemCall("prctl(PR_SET_DUMPABLE, 0)") }
        guard cloister_core_limit_is_zero() == 1 else {
            throw LaunchError(.notHardened, "RLIMIT_CORE is not 0: core files could leak enclave memory")
        }
        guard cloister_no_new_privs() == 1 else {
            throw LaunchError(.notHardened, "no_new_privs is not set: exec could gain privileges")
        }
        guard cloister_capabilities_empty() == 1 else {
            throw LaunchError(.notHardened, "the process holds capabilities: it could act as root")
        }
        var applied: Set<IsolationMechanism> = [.notDumpable, .noCoreFiles, .noNewPrivileges, .noCapabilities]
        if let filter {
            try filter.install()
            applied.insert(.seccomp)
        }
        return applied
    }
}
