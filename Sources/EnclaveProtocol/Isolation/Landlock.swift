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

    /// Read-only rules for what the Swift runtime reads besides its own `/proc/<pid>` (which `EnclaveProcess.spawn`
    /// allows to every confined process, and no other process's entries): the CPU list Dispatch sizes its pools from
    /// (when it exists here).
    public static var runtimeFiles: [FilesystemRule] {
        ["/sys/devices/system/cpu"]
            .filter { (path: String) in Glibc.access(path, F_OK) == 0 }
            .map { FilesystemRule($0, .readOnly) }
    }

    /// Read-only rules (read and execute) for exactly the files the dynamic loader maps to run an image whose library
    /// closure is `libraries` (`ExecutableImage.loadedLibraries()`), and the loader cache it reads to find them; none
    /// for a statically linked image. The rules name files, not their directories, and Landlock binds each to the file
    /// it names when the ruleset is made: the loader can open no other file, and no file put in a library's place.
    public static func loading(_ libraries: [LoadedLibrary]) -> [FilesystemRule] {
        guard !libraries.isEmpty else { return [] }
        let cache = Glibc.access(loaderCache, F_OK) == 0 ? [FilesystemRule(loaderCache, .readOnly)] : []
        return cache + libraries.map { FilesystemRule($0.path, .readOnly) }
    }

    /// The cache the dynamic loader finds libraries through (`ldconfig(8)`).
    static let loaderCache = "/etc/ld.so.cache"
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
    package static func ruleset(_ rules: [FilesystemRule], abi: Int) throws -> FileDescriptor {
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
