internal import CEnclaveSandbox
import CloisterCBOR
public import EnclaveProtocol
import Glibc

/// A workload that ships inside the `cloister-enclave` executable, named by `builtin:NAME` in a manifest.
///
/// Every workload answers `main` (argument: the CBOR array of its text arguments; result: the CBOR unsigned exit
/// status), which `cloister run` calls once; the runtime adds `cloister.quote` (argument: the CBOR map {"nonce",
/// "user_data"}, bytes or null; result: a quote binding the enclave's key).
public struct BuiltinWorkload: Sendable {
    public let name: String
    /// One line for `cloister-enclave --help` and documentation.
    public let summary: String
    /// The ECALL handlers the workload answers, given the running enclave.
    public let ecalls: @Sendable (Enclave) throws -> EnclaveCallTable

    public init(name: String, summary: String, ecalls: @escaping @Sendable (Enclave) throws -> EnclaveCallTable) {
        self.name = name
        self.summary = summary
        self.ecalls = ecalls
    }

    /// Answers ECALLs for tests, demos and latency measurements: `echo` returns its argument, `ping` nothing, `main`
    /// prints its arguments like echo(1); `seal` and `unseal` seal to the enclave's measurement; `read-file` returns
    /// the file at the given path (a trusted file's checked copy, else the file if the enclave's confinement lets it
    /// open it: to demonstrate the confinement).
    public static let echo = BuiltinWorkload(
        name: "echo",
        summary: "answers 'echo' with its argument and 'ping' with nothing; 'main' prints its arguments",
        ecalls: { enclave in
            var table = EnclaveCallTable()
            table.register("echo") { $0 }
            table.register("ping") { _ in [] }
            table.register("seal") { try enclave.seal($0) }
            table.register("unseal") { try enclave.unseal($0) }
            table.register("read-file") { argument in
                try enclave.readFile(String(decoding: argument, as: UTF8.self))
            }
            table.register("main") { argument in
                let words = try EnclaveMain.arguments(argument)
                writeText(words.joined(separator: " ") + "\n")
                return try CBORValue.unsigned(0).encoded()
            }
            return table
        })
}

extension EnclaveCallTable {
    /// Registers the `main` of a workload that a host command drives through its own ECALLs: it prints
    /// `explanation` and that there is nothing to run on its own, and exits 0.
    public mutating func registerHostDrivenMain(_ explanation: String) {
        register(EnclaveMain.mainFunction) { _ in
            writeText(explanation + "; there is nothing to run on its own\n", toDescriptor: 2)
            return try CBORValue.unsigned(0).encoded()
        }
    }
}

/// Writes `text` to `descriptor` (standard output by default), retrying short writes; workloads print with it.
public func writeText(_ text: String, toDescriptor descriptor: Int32 = 1) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}

/// The enclave side of a launch: harden the process, learn its identity from the platform, set up sealed memory,
/// report the hardening, then answer ECALLs on the host channel until it closes.
extension EnclaveMain {
    /// Runs `workload` in this (freshly executed) enclave process. Returns when the host closes the channel.
    public static func run(_ workload: BuiltinWorkload) throws {
        // Exec resets dumpability, so the enclave hardens itself before it touches any channel.
        var applied = try EnclaveSelfHardening.apply(seccompAllowList: nil)
        let platform = PlatformConnection(
            channel: Channel(descriptor: FileDescriptor(adopting: EnclaveDescriptor.platform)))
        let record = try EnclaveRecord(encoded: platform.call(.identity, nil))
        let manifest = try record.manifest()
        let trustedFiles = try TrustedFiles.receive(count: manifest.trustedFiles.count, from: platform)
        let memory = try EnclaveMemory(
            manifest: manifest, store: FileBackingStore(directory: record.backingStoreDirectory))
        if memory.isLocked { applied.insert(.lockedRegions) }
        if let allowList = manifest.syscallAllowList, cloister_seccomp_supported() != 0 {
            try SeccompFilter(allowing: allowList).install()
            applied.insert(.seccomp)
        }
        _ = try platform.call(.hardened, .array(applied.sorted().map { .text($0.rawValue) }))
        let enclave = try Enclave(
            record: record, manifest: manifest, memory: memory, trustedFiles: trustedFiles, platform: platform)
        var table = try workload.ecalls(enclave)
        table.register(quoteFunction) { argument in
            let value = try CBORDecoder().decode(argument)
            let binding = try QuoteBinding(value)
            return try enclave.quote(nonce: binding.nonce, userData: binding.userData)
        }
        let channel = Channel(descriptor: FileDescriptor(adopting: EnclaveDescriptor.ecall))
        defer { channel.shutdown() }
        try EnclaveCallServer(channel: channel, ecalls: table).serve()
    }

    /// Decodes `main`'s argument: a CBOR array of text strings.
    public static func arguments(_ argument: [UInt8]) throws -> [String] {
        guard let items = try CBORDecoder().decode(argument).arrayValue else {
            throw EnclaveCallError(.malformedMessage, "'main' takes a CBOR array of text arguments")
        }
        return try items.map { item in
            guard let text = item.textValue else {
                throw EnclaveCallError(.malformedMessage, "'main' takes a CBOR array of text arguments")
            }
            return text
        }
    }
}
