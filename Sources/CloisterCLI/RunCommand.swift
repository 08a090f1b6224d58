public import ArgumentParser
import Attestation
import CloisterCBOR
import CloisterCrypto
import CloisterErrors
import EnclavePlatform
public import EnclaveProtocol
import Foundation

/// `cloister run MANIFEST [--home DIR] [--evidence KIND] [--quote-out FILE] [--nonce HEX] [--user-data HEX]
/// [-- ARGS]`: the host side of a launch.
public struct RunCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Launch a workload from a signed manifest in a simulated enclave and run it.",
        discussion: """
            The host (this process) starts the platform process, which verifies the signed manifest, measures the \
            executable through the descriptor it runs, confines the enclave and hands the host its ECALL channel. \
            The host then calls the workload's 'main' with the manifest's loader.argv followed by ARGS. With \
            --quote-out it first obtains a quote bound to --nonce and --user-data and to the enclave's own key, in \
            the evidence kind --evidence names (else the manifest's enclave.evidence, else Cloister's quote): a \
            Cloister quote or Nitro document (COSE_Sign1), an SGX or TDX DCAP quote, or an SEV-SNP extended report \
            (report and certificate table); for the last three the file holds the evidence as the hardware makes \
            it, whose report data binds the nonce, user data and key by Cloister's binding (verify it with a \
            policy saying report_data_binding = "cloister"). \
            Launch details go to standard error; the workload's output to standard output. Exit status: the \
            workload's, 64 bad arguments, 65 manifest refused (invalid, or an input changed since signing), 78 \
            missing or insecure platform, 1 launch failure, 128+N when the enclave died of signal N.
            """
    )

    @Argument(help: "The signed manifest (NAME.manifest.cose, from `cloister sign`).")
    var manifest: String

    @Option(help: "The platform home (default: $CLOISTER_HOME, else ~/.cloister).")
    var home: String?

    @Option(help: "The evidence the enclave's quotes take: \(EvidenceKind.names) (default: the manifest's).")
    var evidence: EvidenceKind?

    @Option(help: "Write a quote for the enclave to this file (in the --evidence kind).")
    var quoteOut: String?

    @Option(help: "Hex nonce the quote binds (up to 512 bytes); needs --quote-out.")
    var nonce: String?

    @Option(help: "Hex user data the quote binds (up to 512 bytes); needs --quote-out.")
    var userData: String?

    @Argument(parsing: .postTerminator, help: "Arguments for the workload's main, after --.")
    var arguments: [String] = []

    public init() {}

    public func validate() throws {
        if manifest.hasSuffix(".toml") {
            throw ValidationError(
                "\(manifest) is a TOML manifest; sign it first: cloister sign \(manifest) --key Keys/dev-signer.pem")
        }
        if quoteOut == nil && (nonce != nil || userData != nil) {
            throw ValidationError("--nonce and --user-data bind a quote: add --quote-out FILE")
        }
        _ = try bytes(nonce, "--nonce")
        _ = try bytes(userData, "--user-data")
    }

    public func run() async throws {
        try reportingErrors {
            let (platform, record, channel) = try Self.launch(manifest: manifest, home: home, evidence: evidence)
            let caller = EnclaveCaller(channel: channel)
            var status: Int32 = 0
            do {
                if let quoteOut {
                    try writeQuote(caller: caller, to: quoteOut)
                }
                let workloadArguments = try record.manifest().arguments + arguments
                let reply = try caller.call(
                    EnclaveMain.mainFunction, CBORValue.array(workloadArguments.map(CBORValue.text)).encoded())
                guard let code = try CBORDecoder().decode(reply).uint64Value, code <= 255 else {
                    throw EnclaveCallError(.malformedMessage, "'main' did not return an exit status from 0 to 255")
                }
                status = Int32(code)
            } catch {
                channel.shutdown()
                _ = try? platform.waitForEnclave()
                throw error
            }
            channel.shutdown()
            switch try platform.waitForEnclave() {
            case .exited(0): break
            case .exited(let code):
                printToStandardError("cloister: the enclave exited with status \(code)")
                status = code
            case .signaled(let signal):
                printToStandardError("cloister: the enclave was killed by signal \(signal)")
                status = 128 + signal
            }
            if status != 0 { throw ExitCode(status) }
        }
    }

    /// Starts the platform process and launches the enclave the signed manifest at `manifest` describes, reporting
    /// the launch on standard error; returns the platform, the enclave's record and the host's ECALL channel.
    static func launch(
        manifest: String, home: String?, evidence: EvidenceKind? = nil
    ) throws -> (PlatformProcess, EnclaveRecord, Channel) {
        let platformHome = PlatformHome.resolve(home, environment: ProcessInfo.processInfo.environment)
        let executable = try runningExecutable()
        let locator = EnclaveExecutableLocator.current
        let enclaveExecutable =
            locator.enclaveExecutable
            ?? locator.runningExecutableDirectory.map { "\($0)/\(EnclaveExecutableLocator.enclaveExecutableName)" }
        let manifestPath = URL(fileURLWithPath: manifest).standardizedFileURL.path
        let platform = try PlatformProcess.start(executable: executable, home: platformHome)
        let (record, channel) = try reportingRemote {
            try platform.launch(manifestPath: manifestPath, enclaveExecutable: enclaveExecutable, evidence: evidence)
        }
        printToStandardError("cloister: enclave \(record.enclaveID) launched (evidence \(record.evidence))")
        printToStandardError("cloister: measurement \(hexEncoded(record.identity.measurement))")
        printToStandardError("cloister: isolation \(record.mechanismNames.joined(separator: ", "))")
        if let warning = try isolationWarning(record) { printToStandardError("cloister: warning: \(warning)") }
        return (platform, record, channel)
    }

    private func writeQuote(caller: EnclaveCaller, to path: String) throws {
        let request: CBORValue = [
            "nonce": try bytes(nonce, "--nonce").map(CBORValue.bytes) ?? .null,
            "user_data": try bytes(userData, "--user-data").map(CBORValue.bytes) ?? .null,
        ]
        let reply = try caller.call(EnclaveMain.quoteFunction, request.encoded())
        let bound = try BoundEvidence.read(reply)
        let quote = bound?.evidence ?? reply
        try AtomicFile(path: path, mode: 0o644).write(quote)
        printToStandardError("cloister: wrote quote \(path) (\(quote.count) bytes)")
        if let key = bound?.publicKey {
            printToStandardError("cloister: its report data binds the enclave key \(hexEncoded(key))")
        }
    }

    private func bytes(_ hex: String?, _ option: String) throws -> [UInt8]? {
        guard let hex else { return nil }
        guard let bytes = hexDecoded(hex), bytes.count <= 512 else {
            throw ValidationError("\(option) must be an even number of hex digits, at most 512 bytes")
        }
        return bytes
    }

    /// One line naming the mechanisms the kernel could not provide and the memory lock the limits refused, or nil
    /// when everything asked for is in force.
    static func isolationWarning(_ record: EnclaveRecord) throws -> String? {
        let manifest = try record.manifest()
        var missing: [String] = []
        if !record.mechanisms.contains(.landlock) { missing.append("Landlock (filesystem not restricted)") }
        if manifest.syscallAllowList != nil && !record.mechanisms.contains(.seccomp) {
            missing.append("seccomp (syscalls not filtered)")
        }
        var problems = missing.isEmpty ? [] : ["this kernel lacks " + missing.joined(separator: ", ")]
        if !record.mechanisms.contains(.lockedRegions) {
            problems.append(LockedRegion.lockRefusal(byteCount: manifest.lockedByteCount))
        }
        guard !problems.isEmpty else { return nil }
        return problems.joined(separator: "; ") + "; a Cloister quote records what was applied"
    }

    /// The path of the running `cloister` executable, which the platform process runs.
    static func runningExecutable() throws -> String {
        let path = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        guard !path.hasSuffix(" (deleted)") else {
            throw ValidationError("the running cloister executable was replaced; run the new one")
        }
        return path
    }

    /// Rethrows a platform-process error as the local type its domain names, so exit statuses stay meaningful.
    static func reportingRemote<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PlatformProcessError {
            switch error.domain {
            case "ManifestError": throw ManifestError(.init(error.code.rawValue), error.reason, path: error.path)
            case "PlatformError": throw PlatformError(.init(error.code.rawValue), error.reason)
            default: throw error
            }
        }
    }
}

extension EvidenceKind: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument) }
}
