internal import CEnclaveSandbox
import Glibc

/// A path the enclave may use, and how (enforced with Landlock).
public struct FilesystemRule: Sendable, Hashable {
    /// What the enclave may do beneath the path.
    public enum Access: String, Sendable, Hashable {
        /// Read files, list directories, execute.
        case readOnly = "ro"
        /// Everything the kernel's Landlock ABI can express: also write, create, remove, rename, truncate.
        case readWrite = "rw"
    }

    /// A file or a directory (the rule covers everything beneath it); symbolic links are followed.
    public var path: String
    public var access: Access

    public init(_ path: String, _ access: Access) {
        self.path = path
        self.access = access
    }

    /// Read-only rules for what the dynamic loader and the Swift runtime need to start an executable besides its own
    /// `/proc/<pid>` (which `EnclaveProcess.spawn` allows to every confined process, and no other process's entries):
    /// the loader cache, the system libraries, the toolchain's runtime libraries and the CPU list Dispatch sizes its
    /// pools from (only the paths that exist here).
    public static var runtimeLibraries: [FilesystemRule] {
        ["/etc/ld.so.cache", "/lib", "/lib64", "/usr/lib", "/opt/swift/usr/lib/swift/linux", "/sys/devices/system/cpu"]
            .filter { (path: String) in Glibc.access(path, F_OK) == 0 }
            .map { FilesystemRule($0, .readOnly) }
    }
}

/// The kernel's Landlock support.
public enum Landlock {
    /// The Landlock ABI version of the running kernel, or nil when Landlock is unavailable (then launches go on
    /// without it and do not report `IsolationMechanism.landlock`; callers should warn once).
    public static var abiVersion: Int? {
        let version = cloister_landlock_abi_version()
        return version >= 1 ? Int(version) : nil
    }

    /// A ruleset handling every filesystem right of `abi` and allowing exactly `rules`; the child restricts itself
    /// with it after fork.
    static func ruleset(_ rules: [FilesystemRule], abi: Int) throws -> FileDescriptor {
        let handled = cloister_landlock_fs_rights(Int32(abi))
        let rulesetFD = cloister_landlock_create_ruleset(handled)
        guard rulesetFD >= 0 else { throw LaunchError.systemCall("landlock_create_ruleset", code: .landlock) }
        let ruleset = FileDescriptor(adopting: rulesetFD)
        for rule in rules {
            let pathFD = cloister_open_path(rule.path)
            guard pathFD >= 0 else { throw LaunchError.systemCall("open", "'\(rule.path)'", code: .landlock) }
            let path = FileDescriptor(adopting: pathFD)
            let allowed = rule.access == .readOnly ? cloister_landlock_fs_read_rights() : handled
            guard cloister_landlock_allow_path(ruleset.rawValue, path.rawValue, allowed) == 0 else {
                throw LaunchError.systemCall("landlock_add_rule", "for '\(rule.path)'", code: .landlock)
            }
        }
        return ruleset
    }
}
