import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

/// The enclave side of the self-hardening tests. `SelfHardeningTests` starts this test binary again as an enclave
/// (through `EnclaveProcess.spawn`, so fd 3 is its ECALL channel) with `CLOISTER_HARDENING_PROBE` set; in a normal run
/// the probe is disabled. It reports over the channel and, after seccomp, leaves with `_exit`. In mode `unlaunched`
/// it is started by other means, has no channel, and prints its report.
@Suite struct HardeningProbe {
    static let modeVariable = "CLOISTER_HARDENING_PROBE"
    static var mode: String? { ProcessInfo.processInfo.environment[modeVariable] }
    /// The line the `unlaunched` probe prints before its report.
    static let reportPrefix = "hardening-probe: "

    /// Enough for the probe to report over its channel and leave; `mkdir` is deliberately absent.
    static let seccompAllowList = [
        "read", "write", "sendmsg", "recvmsg", "futex", "getpid", "mmap", "munmap", "mprotect", "madvise", "brk",
        "rt_sigprocmask", "rt_sigreturn", "sched_yield", "clock_gettime", "exit", "exit_group",
    ]

    @Test(.enabled(if: HardeningProbe.mode != nil)) func probe() throws {
        switch HardeningProbe.mode {
        case "unlaunched":
            let outcome = Result { try EnclaveSelfHardening.apply() }
            print(HardeningProbe.reportPrefix + "\(outcome)")
            return
        case "memory-lock":
            // Launches a shell with each policy limit (bytes) and reports the RLIMIT_MEMLOCK (KiB) it starts with.
            for limit in [4 << 20, 64 << 20] {
                let output = try runEnclave(
                    shellImage, ["-c", "ulimit -l; ulimit -H -l"], policy: LaunchPolicy(memoryLockLimit: UInt64(limit)))
                let limits = output.standardOutput.split(separator: "\n").joined(separator: "/")
                print(HardeningProbe.reportPrefix + "\(limit)=\(limits)")
            }
            return
        default: break
        }
        let channel = Channel(descriptor: FileDescriptor(adopting: EnclaveDescriptor.ecall))
        do {
            switch HardeningProbe.mode {
            case "hardened", "control":
                let applied = HardeningProbe.mode == "hardened" ? try EnclaveSelfHardening.apply() : []
                try channel.send(Array("\(getpid()) \(applied.map(\.rawValue).sorted())".utf8))
                _ = try channel.receive()  // the attacker has tried; the parent lets us go
            case "seccomp":
                let directory = ProcessInfo.processInfo.environment["CLOISTER_PROBE_DIRECTORY"] ?? "/tmp"
                let applied = try EnclaveSelfHardening.apply(seccompAllowList: HardeningProbe.seccompAllowList)
                let created = mkdir(directory + "/made-under-seccomp", 0o700)
                let mkdirErrno = errno
                let pid = getpid()
                try channel.send(
                    Array("mkdir=\(created) errno=\(mkdirErrno) pid=\(pid) \(applied.contains(.seccomp))".utf8))
                _exit(0)
            case "launcher":
                // Launches a process of its own and waits to be killed: that process must not outlive it.
                let channels = try EnclaveChannelSet()
                let launched = try EnclaveProcess.spawn(
                    image: ExecutableImage(path: "/bin/sleep"), arguments: ["60"], endpoints: channels.enclave,
                    standardStreams: StandardStreams(output: .null, error: .null))
                try channel.send(Array("\(launched.pid)".utf8))
                _ = try channel.receive()
            default:
                try channel.send(Array("unknown probe mode".utf8))
            }
        } catch {
            try channel.send(Array("error: \(error)".utf8))
        }
    }
}

@Suite struct SelfHardeningTests {
    /// This test binary, to start again as a probe.
    static let testBinary: String = {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return String(decoding: buffer[..<max(count, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    static let probeArguments = ["--testing-library", "swift-testing", "--filter", "HardeningProbe"]

    /// Starts the probe as an enclave: root launches it without capabilities, so a same-user attacker is at hand.
    private func launchProbe(mode: String, environment: [String: String] = [:]) throws -> (EnclaveProcess, Channel) {
        let channels = try EnclaveChannelSet()
        let process = try EnclaveProcess.spawn(
            image: ExecutableImage(path: Self.testBinary), arguments: Self.probeArguments,
            environment: environment.merging([HardeningProbe.modeVariable: mode]) { a, _ in a },
            endpoints: channels.enclave, standardStreams: StandardStreams(output: .null, error: .null))
        return (process, channels.host)
    }

    /// What an attacker of the enclave's user (root without capabilities, when the tests run as root) achieves
    /// against `pid`: "mem=ok|<errno> ptrace=ok|<errno>".
    private func attack(_ pid: String) throws -> String {
        let script = """
            import ctypes, os, sys
            pid = int(sys.argv[1])
            try:
                with open(f"/proc/{pid}/maps") as maps:
                    start = int(maps.readline().split("-")[0], 16)
                fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
                os.pread(fd, 16, start)
                mem = "ok"
            except OSError as error:
                mem = str(error.errno)
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.ptrace(16, pid, None, None) == 0:  # PTRACE_ATTACH
                os.waitpid(pid, 0x40000000)            # __WALL
                libc.ptrace(17, pid, None, None)       # PTRACE_DETACH
                trace = "ok"
            else:
                trace = str(ctypes.get_errno())
            print(f"mem={mem} ptrace={trace}")
            """
        let withoutCapabilities = ["--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all"]
        let output =
            getuid() == 0
            ? try runTool("/usr/bin/setpriv", withoutCapabilities + ["/usr/bin/python3", "-c", script, pid])
            : try runTool("/usr/bin/python3", ["-c", script, pid])
        return output.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) + output.standardError
    }

    @Test(
        "a hardened enclave resists a same-user reader of /proc/PID/mem and ptrace; an unhardened one does not",
        arguments: ["hardened", "control"])
    func notDumpable(mode: String) throws {
        let (process, channel) = try launchProbe(mode: mode)
        let report = String(decoding: try channel.receive(), as: UTF8.self)
        let fields = report.split(separator: " ", maxSplits: 1).map(String.init)
        try #require(fields.count == 2 && Int32(fields[0]) == process.pid, "probe said: \(report)")
        let outcome = try attack(fields[0])
        try channel.send([])
        #expect(try process.wait() == .exited(0))
        if mode == "hardened" {
            #expect(fields[1] == #"["no-capabilities", "no-core-files", "no-new-privileges", "not-dumpable"]"#)
            #expect(outcome == "mem=\(EACCES) ptrace=\(EPERM)")
        } else {
            #expect(outcome == "mem=ok ptrace=ok")
        }
    }

    @Test("a seccomp allow-list without mkdir makes mkdir fail with EPERM while allowed calls work")
    func seccompAllowList() throws {
        let directory = try TestEnvironment.temporaryDirectory("seccomp")
        let (process, channel) = try launchProbe(
            mode: "seccomp", environment: ["CLOISTER_PROBE_DIRECTORY": directory.path])
        let report = String(decoding: try channel.receive(), as: UTF8.self)
        #expect(report == "mkdir=-1 errno=\(EPERM) pid=\(process.pid) true")
        #expect(try process.wait() == .exited(0))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("made-under-seccomp").path))
    }

    @Test(
        "a process holding capabilities, not launched by the platform, is refused as not hardened",
        .enabled(if: getuid() == 0, "only root holds capabilities to keep"))
    func capabilitiesRefused() throws {
        // RLIMIT_CORE 0 and no_new_privs as a launch sets them, but every capability root has.
        let output = try runTool(
            "/usr/bin/prlimit",
            [
                "--core=0:0", "/usr/bin/setpriv", "--no-new-privs", "/usr/bin/env",
                "\(HardeningProbe.modeVariable)=unlaunched",
                Self.testBinary,
            ] + Self.probeArguments)
        let report = output.standardOutput.split(separator: "\n").first { $0.hasPrefix(HardeningProbe.reportPrefix) }
        #expect(report?.contains("not-hardened") == true, "\(output.standardOutput)\(output.standardError)")
        #expect(report?.contains("the process holds capabilities") == true)
    }

    @Test(
        "RLIMIT_MEMLOCK is raised to what the enclave locks, or as far as the hard limit allows without privilege",
        .enabled(if: hardMemoryLockLimit.map { $0 >= 8 << 20 } ?? true, "the hard RLIMIT_MEMLOCK is under 8 MiB"))
    func memoryLockLimitRaised() throws {
        // A launcher whose soft limit (1 MiB) is below its hard limit (8 MiB).
        let output = try runTool(
            "/usr/bin/prlimit",
            [
                "--memlock=1048576:8388608", "/usr/bin/env", "\(HardeningProbe.modeVariable)=memory-lock",
                Self.testBinary,
            ] + Self.probeArguments)
        let reports = output.standardOutput.split(separator: "\n").filter { $0.hasPrefix(HardeningProbe.reportPrefix) }
            .map { $0.dropFirst(HardeningProbe.reportPrefix.count) }
        let raisesHardLimit = Self.capabilities().contains(24)  // CAP_SYS_RESOURCE
        #expect(reports.first == "4194304=4096/8192", "\(output.standardOutput)\(output.standardError)")
        #expect(reports.last == (raisesHardLimit ? "67108864=65536/65536" : "67108864=8192/8192"))
    }

    /// This process's hard RLIMIT_MEMLOCK in bytes, nil when unlimited.
    static var hardMemoryLockLimit: UInt64? {
        let limits = (try? String(contentsOfFile: "/proc/self/limits", encoding: .utf8)) ?? ""
        let line = limits.split(separator: "\n").first { $0.hasPrefix("Max locked memory") }
        return line.flatMap { UInt64($0.split(separator: " ", omittingEmptySubsequences: true).dropLast().last ?? "") }
    }

    /// The capability numbers in this process's effective set.
    private static func capabilities() -> Set<Int> {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }
        let mask = line.flatMap { UInt64($0.split(separator: "\t").last ?? "", radix: 16) } ?? 0
        return Set((0..<64).filter { mask & (1 << UInt64($0)) != 0 })
    }

    @Test("an enclave dies with its launcher: after kill -9 of the launcher it is gone within seconds")
    func enclaveDiesWithItsLauncher() throws {
        let (launcher, channel) = try launchProbe(mode: "launcher")
        let report = String(decoding: try channel.receive(), as: UTF8.self)
        let launched = try #require(Int32(report), "probe said: \(report)")
        #expect(Self.isRunning(launched))
        try launcher.signal(SIGKILL)
        #expect(try launcher.wait() == .signaled(SIGKILL))
        var running = true
        for _ in 0..<100 where running {  // 5 s at most
            usleep(50_000)
            running = Self.isRunning(launched)
        }
        #expect(!running, "process \(launched) outlived its launcher")
    }

    /// Whether `pid` exists and has not died (a zombie awaiting its new parent's wait has).
    private static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: end)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    @Test("an unknown syscall name is an error naming it, before anything is changed")
    func unknownSyscall() {
        let error = #expect(throws: LaunchError.self) {
            try EnclaveSelfHardening.apply(seccompAllowList: ["read", "definitely_not_a_syscall"])
        }
        #expect(error?.code == .unknownSyscall)
        #expect(error?.reason.contains("'definitely_not_a_syscall'") == true)
    }

    @Test("syscall names resolve to the x86_64 numbers")
    func syscallNumbers() throws {
        let filter = try SeccompFilter(allowing: ["read", "write", "mkdir", "execveat", "landlock_restrict_self"])
        #expect(filter.syscallNumbers == [0, 1, 83, 322, 446])
    }
}
