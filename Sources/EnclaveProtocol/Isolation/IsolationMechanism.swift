/// A hardening mechanism the platform applies to an enclave process; quotes record which ones were applied.
public enum IsolationMechanism: String, Sendable, CaseIterable, Codable, Comparable {
    /// Own process with PR_SET_DUMPABLE 0: same-user ptrace and /proc/PID/mem fail.
    case notDumpable = "not-dumpable"
    /// RLIMIT_CORE 0: no core file can leak enclave memory.
    case noCoreFiles = "no-core-files"
    /// Every inherited descriptor closed except the enclave's channels.
    case closedDescriptors = "closed-descriptors"
    /// PR_SET_NO_NEW_PRIVS: exec cannot gain privileges.
    case noNewPrivileges = "no-new-privileges"
    /// Every capability set empty (bounding, ambient, permitted, effective, inheritable): root launches no root.
    case noCapabilities = "no-capabilities"
    /// Landlock restricts the filesystem to the manifest's allowed paths.
    case landlock
    /// A seccomp filter admits only the manifest's syscall allow-list.
    case seccomp
    /// Secret regions locked in RAM (mlock), excluded from dumps (MADV_DONTDUMP) and zeroed on exit.
    case lockedRegions = "locked-regions"

    public static func < (lhs: IsolationMechanism, rhs: IsolationMechanism) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}
