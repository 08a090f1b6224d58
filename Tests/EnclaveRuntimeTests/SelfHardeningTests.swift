import CloisterTestSupport
import EnclaveRuntime
import Foundation
import Testing

/// The enclave side of the self-hardening tests. `SelfHardeningTests` starts this test binary again as an enclave
/// (through `EnclaveProcess.spawn`, so fd 3 is its ECALL channel) with `CLOISTER_HARDENING_PROBE` set; in a normal run
/// the probe is disabled. It reports over the channel and, after seccomp, leaves with `_exit`.
@Suite struct HardeningProbe {
    static let modeVariable = "CLOISTER_HARDENING_PROBE"
    static var mode: String? { ProcessInfo.processInfo.environment[modeVariable] }

    /// Enough for the probe to report over its channel and leave; `mkdir` is deliberately absent.
    static let seccompAllowList = [
        "read", "write", "sendmsg", "recvmsg", "futex", "getpid", "mmap", "munmap", "mprotect", "madvise", "brk",
        "rt_sigprocmask", "rt_sigreturn", "sched_yield", "clock_gettime", "exit", "exit_group",
    ]

    @Test(.enabled(if: HardeningProbe.mode != nil)) func probe() throws {
        let channel = Channel(descriptor: FileDescriptor(adopting: EnclaveProcess.ecallDescriptor))
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
    static let nobody = ["--reuid=65534", "--regid=65534", "--clear-groups"]

    /// Starts the probe as an enclave; `asNobody` goes through setpriv so that target and attacker share a uid.
    private func launchProbe(
        mode: String, asNobody: Bool, environment: [String: String] = [:]
    ) throws -> (EnclaveProcess, Channel) {
        let channels = try EnclaveChannelSet()
        let image = try ExecutableImage(path: asNobody ? "/usr/bin/setpriv" : Self.testBinary)
        let arguments = asNobody ? Self.nobody + [Self.testBinary] + Self.probeArguments : Self.probeArguments
        let process = try EnclaveProcess.spawn(
            image: image, arguments: arguments,
            environment: environment.merging([HardeningProbe.modeVariable: mode]) { a, _ in a },
            endpoints: channels.enclave, standardStreams: StandardStreams(output: .null, error: .null))
        return (process, channels.host)
    }

    /// What a same-user attacker achieves against `pid`: "mem=ok|<errno> ptrace=ok|<errno>".
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
        let output = try runTool("/usr/bin/setpriv", Self.nobody + ["/usr/bin/python3", "-c", script, pid])
        return output.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) + output.standardError
    }

    @Test(
        "a hardened enclave resists a same-user reader of /proc/PID/mem and ptrace; an unhardened one does not",
        arguments: ["hardened", "control"])
    func notDumpable(mode: String) throws {
        let (process, channel) = try launchProbe(mode: mode, asNobody: true)
        let report = String(decoding: try channel.receive(), as: UTF8.self)
        let fields = report.split(separator: " ", maxSplits: 1).map(String.init)
        try #require(fields.count == 2 && Int32(fields[0]) == process.pid, "probe said: \(report)")
        let outcome = try attack(fields[0])
        try channel.send([])
        #expect(try process.wait() == .exited(0))
        if mode == "hardened" {
            #expect(fields[1] == #"["no-core-files", "no-new-privileges", "not-dumpable"]"#)
            #expect(outcome == "mem=\(EACCES) ptrace=\(EPERM)")
        } else {
            #expect(outcome == "mem=ok ptrace=ok")
        }
    }

    @Test("a seccomp allow-list without mkdir makes mkdir fail with EPERM while allowed calls work")
    func seccompAllowList() throws {
        let directory = try TestEnvironment.temporaryDirectory("seccomp")
        let (process, channel) = try launchProbe(
            mode: "seccomp", asNobody: false, environment: ["CLOISTER_PROBE_DIRECTORY": directory.path])
        let report = String(decoding: try channel.receive(), as: UTF8.self)
        #expect(report == "mkdir=-1 errno=\(EPERM) pid=\(process.pid) true")
        #expect(try process.wait() == .exited(0))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("made-under-seccomp").path))
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
