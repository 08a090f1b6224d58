internal import CEnclaveSandbox
import CloisterErrors
public import EnclaveProtocol
import Glibc
import Synchronization

/// Where an enclave's fds 0, 1 and 2 come from.
public struct StandardStreams: Sendable {
    /// The source of one standard stream.
    public enum Source: Sendable {
        /// `/dev/null`.
        case null
        /// The launcher's own descriptor of the same number.
        case inherited
        /// A descriptor the caller owns (a pipe to capture output, a log file).
        case descriptor(FileDescriptor)
    }

    public var input: Source
    public var output: Source
    public var error: Source

    /// By default the enclave reads nothing and logs to the launcher's stdout and stderr.
    public init(input: Source = .null, output: Source = .inherited, error: Source = .inherited) {
        self.input = input
        self.output = output
        self.error = error
    }
}

/// How an enclave process is confined beyond what every launch applies.
public struct LaunchPolicy: Sendable {
    /// The paths the enclave may use, enforced with Landlock, besides its own `/proc/<pid>`; nil leaves the
    /// filesystem unrestricted. Include `FilesystemRule.runtimeFiles`, and `FilesystemRule.loading(_:)` of the
    /// image's `loadedLibraries()` so that the dynamic loader can start a dynamically linked executable.
    public var filesystem: [FilesystemRule]?
    /// The bytes of memory the process will lock (`EnclaveManifest.lockedByteCount`; `.max` for unlimited, as the
    /// platform process gets, which raises each enclave's limit in turn): `RLIMIT_MEMLOCK` is raised to it before
    /// the capabilities are dropped, or as far as the hard limit allows when the launcher lacks
    /// `CAP_SYS_RESOURCE`; nil keeps the inherited limit.
    public var memoryLockLimit: UInt64?

    public init(filesystem: [FilesystemRule]? = nil, memoryLockLimit: UInt64? = nil) {
        self.filesystem = filesystem
        self.memoryLockLimit = memoryLockLimit
    }
}

/// How a process ended.
public enum Termination: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case .exited(let status): "exited with status \(status)"
        case .signaled(let signal): "killed by signal \(signal)"
        }
    }
}

/// An enclave process: an `ExecutableImage` started with its channels, hardened before exec.
///
/// The child is forked and, before executing the image, resets signal dispositions and mask, asks for SIGKILL when
/// the launcher dies (`PR_SET_PDEATHSIG`, then exits if the launcher is already gone), sets `RLIMIT_CORE` to 0,
/// raises `RLIMIT_MEMLOCK` to the policy's limit when it may, empties every capability set (bounding, ambient,
/// permitted, effective, inheritable), sets `PR_SET_NO_NEW_PRIVS`, restricts itself with the Landlock ruleset built
/// here from the policy plus read access to its own `/proc/<pid>` (no other process's), and keeps only fds 0-2 (see `StandardStreams`), 3 (ECALL channel to the host) and 4
/// (channel to the platform). A failure of any step, or of `execveat`, is reported back through a close-on-exec pipe
/// and thrown by `spawn`. Dumpability and seccomp do not survive exec: the enclave applies them itself
/// (`EnclaveSelfHardening`).
///
/// Dropping the last reference to an unreaped process kills it (SIGKILL) and reaps it; so does the death of the
/// launcher's process.
public final class EnclaveProcess: Sendable {
    /// The process id (stable until the process is reaped by `wait()`).
    public let pid: Int32
    /// The mechanisms applied before exec: no core files, no new privileges, closed descriptors, and Landlock
    /// when the policy asked for it and the kernel supports it.
    public let mechanisms: Set<IsolationMechanism>

    private let pidfd: FileDescriptor
    /// Serialises `wait()` and holds the termination once reaped.
    private let termination = Mutex<Termination?>(nil)

    private init(pid: Int32, pidfd: FileDescriptor, mechanisms: Set<IsolationMechanism>) {
        self.pid = pid
        self.pidfd = pidfd
        self.mechanisms = mechanisms
    }

    deinit {
        termination.withLock { termination in
            guard termination == nil else { return }
            _ = cloister_pidfd_send_signal(pidfd.rawValue, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    /// Starts `image` with argv `[basename of image.path] + arguments` and exactly `environment`.
    ///
    /// - Parameters:
    ///   - environment: the whole environment; a loader variable (`EnclaveEnvironment.isLoaderVariable(_:)`) is refused.
    ///   - endpoints: the enclave's channel ends; they are taken, and the launcher's copies closed.
    ///   - policy: the Landlock rules, if any, and the memory lock limit.
    ///   - standardStreams: the enclave's fds 0-2.
    /// - Throws: `LaunchError` naming the step and errno when the child could not be hardened or executed, or the
    ///   variable when the environment holds a loader variable.
    public static func spawn(
        image: ExecutableImage,
        arguments: [String] = [],
        environment: [String: String] = [:],
        endpoints: EnclaveEndpoints,
        policy: LaunchPolicy = LaunchPolicy(),
        standardStreams: StandardStreams = StandardStreams()
    ) throws -> EnclaveProcess {
        if let name = environment.keys.sorted().first(where: EnclaveEnvironment.isLoaderVariable) {
            throw LaunchError(
                .loaderVariable,
                "the environment of '\(image.path)' sets \(name), which would change the code the enclave runs "
                    + "outside its measurement")
        }
        var mechanisms: Set<IsolationMechanism> = [
            .noCoreFiles, .noNewPrivileges, .noCapabilities, .closedDescriptors,
        ]
        var ruleset: FileDescriptor?
        if let rules = policy.filesystem, let abi = Landlock.abiVersion {
            ruleset = try Landlock.ruleset(rules, abi: abi)
            mechanisms.insert(.landlock)
        }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw LaunchError.systemCall("open", "'/dev/null'") }
        let nullDescriptor = FileDescriptor(adopting: null)
        let (ecall, platform) = try endpoints.take()
        let streams = [standardStreams.input, standardStreams.output, standardStreams.error]
        // Owners of every descriptor the child duplicates, alive until cloister_spawn returns.
        let owned =
            streams.compactMap { source -> FileDescriptor? in
                if case .descriptor(let descriptor) = source { descriptor } else { nil }
            } + [nullDescriptor, ecall, platform, image.descriptor] + (ruleset.map { [$0] } ?? [])
        let childFDs =
            streams.enumerated().map { number, source -> Int32 in
                switch source {
                case .null: nullDescriptor.rawValue
                case .inherited: Int32(number)
                case .descriptor(let descriptor): descriptor.rawValue
                }
            } + [ecall.rawValue, platform.rawValue]

        let argv = CStringArray([image.path.split(separator: "/").last.map(String.init) ?? image.path] + arguments)
        let envp = CStringArray(environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
        var result = cloister_spawn_result()
        let status = withExtendedLifetime(owned) {
            argv.withPointers { argvPointer in
                envp.withPointers { envpPointer in
                    var request = cloister_spawn_request()
                    request.image_fd = image.descriptor.rawValue
                    request.argv = argvPointer
                    request.envp = envpPointer
                    request.child_fds = (childFDs[0], childFDs[1], childFDs[2], childFDs[3], childFDs[4])
                    request.landlock_ruleset_fd = ruleset?.rawValue ?? -1
                    request.memory_lock_limit = policy.memoryLockLimit ?? 0
                    return cloister_spawn(&request, &result)
                }
            }
        }
        guard status == 0 else {
            throw LaunchError(
                .spawnFailed,
                "launching '\(image.path)' failed at \(stageName(result.failed_stage)): \(errnoText(result.error))",
                errno: result.error)
        }
        guard result.pidfd >= 0 else {
            let error = errno
            kill(result.pid, SIGKILL)
            var ignored: Int32 = 0
            while waitpid(result.pid, &ignored, 0) < 0 && errno == EINTR {}
            throw LaunchError.systemCall("pidfd_open", "for the enclave of '\(image.path)'", errno: error)
        }
        return EnclaveProcess(pid: result.pid, pidfd: FileDescriptor(adopting: result.pidfd), mechanisms: mechanisms)
    }

    /// Blocks until the process ends, reaps it, and returns how it ended (again on later calls).
    public func wait() throws -> Termination {
        try termination.withLock { termination in
            if let termination { return termination }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                guard errno == EINTR else { throw LaunchError.systemCall("waitpid", "\(pid)") }
            }
            let ended: Termination =
                status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
            termination = ended
            return ended
        }
    }

    /// Sends `signal` through a pidfd, so a reaped process's reused pid is never hit.
    public func signal(_ signal: Int32) throws {
        guard cloister_pidfd_send_signal(pidfd.rawValue, signal) == 0 else {
            throw LaunchError.systemCall("pidfd_send_signal", "(\(signal)) to \(pid)")
        }
    }

    private static func stageName(_ stage: Int32) -> String {
        switch UInt32(stage) {
        case CLOISTER_SPAWN_PIPE.rawValue: "pipe2"
        case CLOISTER_SPAWN_FORK.rawValue: "fork"
        case CLOISTER_SPAWN_SIGNALS.rawValue: "resetting signals"
        case CLOISTER_SPAWN_CORE_LIMIT.rawValue: "setrlimit(RLIMIT_CORE, 0)"
        case CLOISTER_SPAWN_NO_NEW_PRIVS.rawValue: "prctl(PR_SET_NO_NEW_PRIVS)"
        case CLOISTER_SPAWN_PARENT_DEATH_SIGNAL.rawValue: "prctl(PR_SET_PDEATHSIG)"
        case CLOISTER_SPAWN_MEMORY_LOCK_LIMIT.rawValue: "setrlimit(RLIMIT_MEMLOCK)"
        case CLOISTER_SPAWN_CAPABILITIES.rawValue: "dropping capabilities"
        case CLOISTER_SPAWN_LANDLOCK.rawValue: "landlock_restrict_self"
        case CLOISTER_SPAWN_DESCRIPTORS.rawValue: "placing descriptors 0-4"
        case CLOISTER_SPAWN_CLOSE_RANGE.rawValue: "close_range"
        case CLOISTER_SPAWN_EXEC.rawValue: "execveat"
        default: "stage \(stage)"
        }
    }
}

/// NUL-terminated copies of strings and a NULL-terminated array of pointers to them, as `execve` wants.
private final class CStringArray {
    private let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    deinit { pointers.forEach { free($0) } }

    func withPointers<R>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
        pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}
