/// A workload that ships inside the `cloister-enclave` executable, named by `builtin:NAME` in a manifest.
public struct BuiltinWorkload: Sendable {
    public let name: String
    /// One line for `cloister-enclave --help` and documentation.
    public let summary: String
    /// The ECALL handlers the workload answers.
    public let ecalls: @Sendable () -> EnclaveCallTable

    /// Every built-in workload, by name.
    public static let all: [String: BuiltinWorkload] = [echo.name: echo]

    /// Answers ECALLs for tests, demos and latency measurements: `echo` returns its argument, `ping` nothing.
    public static let echo = BuiltinWorkload(
        name: "echo",
        summary: "answers ECALL 'echo' with its argument and 'ping' with nothing",
        ecalls: {
            var table = EnclaveCallTable()
            table.register("echo") { $0 }
            table.register("ping") { _ in [] }
            return table
        })
}

/// The enclave side of a launch: harden the process, then answer ECALLs on the host channel until it closes.
public enum EnclaveMain {
    /// Runs `workload` in this (freshly executed) enclave process. Returns when the host closes the channel.
    public static func run(_ workload: BuiltinWorkload, seccompAllowList: [String]? = nil) throws {
        // Exec resets dumpability, so the enclave hardens itself before it touches any channel.
        try EnclaveSelfHardening.apply(seccompAllowList: seccompAllowList)
        let channel = Channel(descriptor: FileDescriptor(adopting: EnclaveProcess.ecallDescriptor))
        defer { channel.shutdown() }
        try EnclaveCallServer(channel: channel, ecalls: workload.ecalls()).serve()
    }
}
