import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

@Suite struct EnclaveProcessTests {
    @Test("the enclave keeps only fds 0-4, however many the launcher has open")
    func onlyChannelDescriptorsSurvive() throws {
        // A descriptor without close-on-exec in the launcher, as a careless library would leave one.
        let leaked = open("/dev/null", O_RDONLY)
        defer { close(leaked) }
        #expect(leaked > 4)
        let output = try runEnclave(shellImage, ["-c", "ls /proc/$$/fd"])
        #expect(output.standardOutput.split(separator: "\n") == ["0", "1", "2", "3", "4"])
        #expect(output.mechanisms.contains(.closedDescriptors))
    }

    @Test("fd 3 is the host's ECALL channel and fd 4 the platform's channel")
    func channelsAreAtFixedNumbers() throws {
        let channels = try EnclaveChannelSet()
        // One frame on each: a 4-byte big-endian length, then the payload.
        let script = #"printf '\000\000\000\005ecall' >&3; printf '\000\000\000\010platform' >&4"#
        let output = try runEnclave(shellImage, ["-c", script], channels: channels)
        #expect(output.termination == .exited(0))
        #expect(try channels.host.receive() == Array("ecall".utf8))
        #expect(try channels.platform.receive() == Array("platform".utf8))
        // The enclave exited and the launcher kept no copy of its ends: both channels report the close.
        #expect(throws: ChannelError(.closed, "the peer closed the channel")) { try channels.host.receive() }
        #expect(throws: ChannelError(.closed, "the peer closed the channel")) { try channels.platform.receive() }
    }

    @Test("core files are disabled and no_new_privs is set in the enclave")
    func coreLimitAndNoNewPrivileges() throws {
        let output = try runEnclave(shellImage, ["-c", "ulimit -c; ulimit -H -c; grep NoNewPrivs /proc/self/status"])
        #expect(output.standardOutput == "0\n0\nNoNewPrivs:\t1\n")
        #expect(output.mechanisms.isSuperset(of: [.noCoreFiles, .noNewPrivileges]))
    }

    @Test("every capability set of the enclave is empty, however privileged its launcher")
    func capabilitiesDropped() throws {
        let output = try runEnclave(shellImage, ["-c", "grep -E '^Cap' /proc/self/status"])
        let sets = Dictionary(
            uniqueKeysWithValues: output.standardOutput.split(separator: "\n").map { line in
                let fields = line.split(separator: "\t")
                return (String(fields[0].dropLast()), String(fields[1]))
            })
        let none = "0000000000000000"
        #expect(sets["CapInh"] == none && sets["CapPrm"] == none && sets["CapEff"] == none)
        #expect(sets["CapAmb"] == none)
        // Emptying the bounding set takes CAP_SETPCAP; a launcher without it has no capabilities to hand on.
        #expect(sets["CapBnd"] == none || getuid() != 0, "\(output.standardOutput)")
        #expect(output.mechanisms.contains(.noCapabilities))
    }

    @Test(
        "a loader variable in the environment is refused before anything runs",
        arguments: ["LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "GCONV_PATH"])
    func loaderVariableRefused(name: String) throws {
        let channels = try EnclaveChannelSet()
        let error = #expect(throws: LaunchError.self) {
            try EnclaveProcess.spawn(
                image: shellImage, arguments: ["-c", "exit 0"], environment: [name: "/tmp/x"],
                endpoints: channels.enclave)
        }
        #expect(error?.code == .loaderVariable)
        #expect(error?.reason.contains(name) == true)
    }

    @Test("ordinary environment variables are not loader variables")
    func ordinaryVariables() {
        for name in ["LOG_LEVEL", "PATH", "HOME", "LANG", "XLD_PRELOAD", "MALLOC"] {
            #expect(!EnclaveEnvironment.isLoaderVariable(name), "\(name)")
        }
    }

    @Test("an enclave launched from a thread that then exits keeps running: only its launcher's process matters")
    func outlivesTheLaunchingThread() throws {
        let launched = BackgroundWork { () throws -> (EnclaveProcess, FileDescriptor) in
            let pipe = try FileDescriptor.pipe()
            let process = try EnclaveProcess.spawn(
                image: shellImage, arguments: ["-c", "sleep 0.5; echo alive"], environment: ["PATH": "/usr/bin:/bin"],
                endpoints: try EnclaveChannelSet().enclave,
                standardStreams: StandardStreams(output: .descriptor(pipe.write)))
            return (process, pipe.read)
        }
        let (process, output) = try launched.join()
        let text = String(decoding: try readAll(output), as: UTF8.self)
        #expect(text == "alive\n")
        #expect(try process.wait() == .exited(0))
    }

    @Test("signal dispositions and mask are reset and the environment is exactly the one given")
    func cleanSignalsAndEnvironment() throws {
        signal(SIGUSR1, SIG_IGN)
        defer { signal(SIGUSR1, SIG_DFL) }
        let output = try runEnclave(shellImage, ["-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status; env"])
        let lines = output.standardOutput.split(separator: "\n")
        #expect(lines.contains("SigBlk:\t0000000000000000"))
        // The launcher ignores SIGUSR1 (and its runtime some real-time signals); dash with -c ignores nothing itself.
        #expect(lines.contains("SigIgn:\t0000000000000000"))
        #expect(lines.filter { $0.contains("=") && !$0.hasPrefix("PWD=") } == ["PATH=/usr/bin:/bin"])
    }

    @Test("Landlock confines the enclave to the policy's paths")
    func landlockConfinesFilesystem() throws {
        try #require(Landlock.abiVersion != nil, "the kernel has no Landlock")
        let allowed = try TestEnvironment.temporaryDirectory("landlock-allowed")
        let writable = try TestEnvironment.temporaryDirectory("landlock-writable")
        let forbidden = try TestEnvironment.temporaryDirectory("landlock-forbidden")
        for directory in [allowed, forbidden] {
            try Data("secret in \(directory.lastPathComponent)\n".utf8).write(to: directory.appendingPathComponent("f"))
        }
        // The shell and cat(1) run with exactly the files the loader maps for them.
        let cat = try ExecutableImage(path: "/usr/bin/cat")
        let libraries = try shellImage.loadedLibraries() + cat.loadedLibraries()
        let policy = LaunchPolicy(
            filesystem: FilesystemRule.runtimeFiles + FilesystemRule.loading(libraries) + [
                FilesystemRule(cat.path, .readOnly), FilesystemRule(allowed.path, .readOnly),
                FilesystemRule(writable.path, .readWrite),
            ])
        let script = """
            cat \(allowed.path)/f; echo "read allowed: $?"
            cat \(forbidden.path)/f 2>&1; echo "read forbidden: $?"
            (echo x > \(allowed.path)/new) 2>&1; echo "write read-only: $?"
            echo x > \(writable.path)/new; echo "write writable: $?"
            read line < /proc/$$/status; echo "own /proc: $?"
            (read line < /proc/\(getpid())/environ) 2>/dev/null; echo "launcher's /proc: $?"
            """
        let output = try runEnclave(shellImage, ["-c", script], policy: policy)
        #expect(
            output.standardOutput == """
                secret in \(allowed.lastPathComponent)
                read allowed: 0
                cat: \(forbidden.path)/f: Permission denied
                read forbidden: 1
                sh: 3: cannot create \(allowed.path)/new: Permission denied
                write read-only: 2
                write writable: 0
                own /proc: 0
                launcher's /proc: 2

                """)
        #expect(output.mechanisms.contains(.landlock))
        #expect(FileManager.default.fileExists(atPath: writable.appendingPathComponent("new").path))
        #expect(!FileManager.default.fileExists(atPath: allowed.appendingPathComponent("new").path))
    }

    @Test("without a filesystem policy Landlock is not applied nor reported")
    func noPolicyNoLandlock() throws {
        let output = try runEnclave(shellImage, ["-c", "cat /etc/hostname >/dev/null; echo $?"])
        #expect(output.standardOutput == "0\n")
        #expect(!output.mechanisms.contains(.landlock))
    }

    @Test("a Landlock rule for a missing path is an error naming it")
    func missingLandlockPath() throws {
        try #require(Landlock.abiVersion != nil, "the kernel has no Landlock")
        let channels = try EnclaveChannelSet()
        let policy = LaunchPolicy(filesystem: [FilesystemRule("/nonexistent/cloister", .readOnly)])
        let error = #expect(throws: LaunchError.self) {
            try EnclaveProcess.spawn(image: shellImage, endpoints: channels.enclave, policy: policy)
        }
        #expect(error?.code == .landlock)
        #expect(error?.reason.contains("'/nonexistent/cloister'") == true)
        #expect(error?.errno == ENOENT)
    }

    @Test(
        "an image that cannot be executed fails spawn with the errno",
        arguments: [
            (0o644, EACCES, "Permission denied"), (0o755, ENOEXEC, "Exec format error"),
        ])
    func execFailureIsThrown(mode: Int, errno expected: Int32, text: String) throws {
        let directory = try TestEnvironment.temporaryDirectory("exec")
        let path = directory.appendingPathComponent("not-elf").path
        try Data("plain text, no ELF header\n".utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        let image = try ExecutableImage(path: path)
        let channels = try EnclaveChannelSet()
        let error = #expect(throws: LaunchError.self) {
            try EnclaveProcess.spawn(image: image, endpoints: channels.enclave)
        }
        #expect(error?.code == .spawnFailed)
        #expect(error?.errno == expected)
        #expect(error?.reason == "launching '\(path)' failed at execveat: \(text) (errno \(expected))")
    }

    @Test("an enclave's channel ends go to one process only")
    func endpointsAreTakenOnce() throws {
        let channels = try EnclaveChannelSet()
        let first = try EnclaveProcess.spawn(
            image: shellImage, arguments: ["-c", "exit 3"], endpoints: channels.enclave)
        #expect(try first.wait() == .exited(3))
        #expect(try first.wait() == .exited(3))
        let error = #expect(throws: LaunchError.self) {
            try EnclaveProcess.spawn(image: shellImage, endpoints: channels.enclave)
        }
        #expect(error?.code == .endpointsTaken)
    }

    @Test("signalling a process that was reaped fails instead of hitting a reused pid")
    func signalAfterReap() throws {
        let channels = try EnclaveChannelSet()
        let process = try EnclaveProcess.spawn(
            image: shellImage, arguments: ["-c", "exit 0"], endpoints: channels.enclave)
        #expect(try process.wait() == .exited(0))
        let error = #expect(throws: LaunchError.self) { try process.signal(SIGKILL) }
        #expect(error?.errno == ESRCH)
    }
}
