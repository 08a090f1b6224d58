import CloisterCBOR
public import CloisterErrors
public import EnclaveProtocol
import Foundation

/// An error that crossed from the platform process to the host, keeping its domain, code and reason.
public struct PlatformProcessError: CodedError {
    public typealias Code = ErrorCode<PlatformProcessError>

    /// The error type the platform process threw ("ManifestError", "PlatformError", "LaunchError", ...).
    public let domain: String
    public let code: Code
    public let reason: String
    /// The file the error is about, when it names one (a manifest, a trusted file, an allowed path).
    public let path: String?

    public init(domain: String, code: Code, reason: String, path: String? = nil) {
        self.domain = domain
        self.code = code
        self.reason = reason
        self.path = path
    }

    public var description: String { "\(reason) (\(domain) \(code.rawValue))" }
}

/// The host's handle on a platform process (DESIGN.md: host, platform and enclave are three processes).
///
/// `start` runs `cloister platform launch` from a sealed, measured copy of the `cloister` executable with the same
/// hardening as an enclave (no core files, no new privileges, only its control channel as fd 3; it makes itself
/// non-dumpable), so the host, which holds no key, cannot read the platform's secrets out of its memory. Over the
/// control channel the host asks for one launch, receives the enclave record and its ECALL channel (SCM_RIGHTS),
/// and finally how the enclave ended.
public final class PlatformProcess: Sendable {
    private let process: EnclaveProcess
    private let control: Channel

    private init(process: EnclaveProcess, control: Channel) {
        self.process = process
        self.control = control
    }

    /// Starts the platform for `home` from the `cloister` executable at `executable`.
    public static func start(executable: String, home: PlatformHome) throws -> PlatformProcess {
        let (host, platform) = try Channel.makePair()
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw LaunchError.systemCall("open", "'/dev/null'") }
        var environment: [String: String] = [:]
        for name in ["TMPDIR", "HOME"] {
            if let value = ProcessInfo.processInfo.environment[name] { environment[name] = value }
        }
        let process = try EnclaveProcess.spawn(
            image: ExecutableImage(path: executable), arguments: ["platform", "launch", "--home", home.path],
            environment: environment,
            endpoints: EnclaveEndpoints(ecall: platform.descriptor, platform: FileDescriptor(adopting: null)),
            policy: LaunchPolicy(memoryLockLimit: .max))
        return PlatformProcess(process: process, control: host)
    }

    /// Asks the platform to launch the signed manifest at `manifestPath` (running built-in workloads from
    /// `enclaveExecutable`), its quotes taking `evidence` (nil: the manifest's kind); returns the record and the
    /// host's end of the enclave's ECALL channel.
    public func launch(manifestPath: String, enclaveExecutable: String?, evidence: EvidenceKind? = nil) throws -> (
        record: EnclaveRecord, ecall: Channel
    ) {
        let request: CBORValue = [
            "manifest": .text(manifestPath),
            "enclave_executable": enclaveExecutable.map(CBORValue.text) ?? .null,
            "evidence": evidence.map { CBORValue.text($0.rawValue) } ?? .null,
        ]
        try control.send(request.encoded())
        let reply: [UInt8]
        let descriptor: FileDescriptor?
        do {
            (reply, descriptor) = try control.receiveWithOptionalDescriptor()
        } catch {
            let ended = try? process.wait()
            throw LaunchError(
                .spawnFailed,
                "the platform process ended before answering (\(ended?.description ?? "unknown")): \(error)")
        }
        let value = try CBORDecoder().decode(reply)
        if let failure = value["error"] { throw Self.remoteError(failure) }
        guard let record = value["record"]?.bytesValue, let descriptor else {
            throw LaunchError(.spawnFailed, "the platform's launch reply lacks the record or the ECALL channel")
        }
        return (try EnclaveRecord(encoded: record), Channel(descriptor: descriptor))
    }

    /// Waits for the platform to report how the enclave ended, then for the platform process to exit.
    public func waitForEnclave() throws -> Termination {
        defer { _ = try? process.wait() }
        let value = try CBORDecoder().decode(control.receive())
        if let failure = value["error"] { throw Self.remoteError(failure) }
        guard let ended = value["termination"]?.arrayValue, ended.count == 2, let kind = ended[0].textValue,
            let number = ended[1].int64Value, let status = Int32(exactly: number)
        else { throw LaunchError(.spawnFailed, "the platform's termination report is malformed") }
        return kind == "signaled" ? .signaled(status) : .exited(status)
    }

    private static func remoteError(_ value: CBORValue) -> PlatformProcessError {
        PlatformProcessError(
            domain: value["domain"]?.textValue ?? "unknown", code: .init(value["code"]?.textValue ?? "unknown"),
            reason: value["reason"]?.textValue ?? "the platform failed without a reason",
            path: value["path"]?.textValue)
    }
}

/// The platform process's side: serve one launch for the host on the control channel (fd 3).
public enum PlatformProcessMain {
    /// Hardens this process, answers the host's launch request, serves the enclave, reports its end. Errors go to
    /// the host as {"error": {domain, code, reason}}; the return value is this process's exit status.
    public static func run(home: PlatformHome) -> Int32 {
        let control = Channel(descriptor: FileDescriptor(adopting: EnclaveDescriptor.ecall))
        do {
            try EnclaveSelfHardening.apply()
            let request = try CBORDecoder().decode(control.receive())
            guard let manifestPath = request["manifest"]?.textValue else {
                throw PlatformError(.invalidRequest, "the launch request names no manifest")
            }
            let platform = try Platform(opening: home)
            let signed = try SignedManifest(contentsOf: manifestPath)
            let launcher = EnclaveLauncher(
                platform: platform,
                locator: EnclaveExecutableLocator(
                    enclaveExecutable: request["enclave_executable"]?.textValue, runningExecutableDirectory: nil))
            var evidence: EvidenceKind?
            if let name = request["evidence"]?.textValue {
                guard let kind = EvidenceKind(rawValue: name) else {
                    throw PlatformError(
                        .invalidRequest, "'\(name)' is not an evidence kind (\(EvidenceKind.names))")
                }
                evidence = kind
            }
            let enclave = try launcher.launch(signed, evidence: evidence)
            let reply: CBORValue = ["record": .bytes(try enclave.record.encoded())]
            try control.send(reply.encoded(), passing: enclave.host.descriptor)
            // The host alone holds the ECALL channel now: when it dies the enclave sees the channel close and ends.
            try enclave.host.descriptor.release()
            let ended = try enclave.wait()
            let termination: CBORValue =
                switch ended {
                case .exited(let status): ["termination": .array([.text("exited"), CBORValue(Int64(status))])]
                case .signaled(let signal): ["termination": .array([.text("signaled"), CBORValue(Int64(signal))])]
                }
            try control.send(termination.encoded())
            return 0
        } catch {
            let coded = error as? any CodedError
            var entries = [
                CBORMapEntry("domain", .text(coded.map { String(describing: type(of: $0)) } ?? "Error")),
                CBORMapEntry("code", .text(coded?.codeDescription ?? "internal")),
                CBORMapEntry("reason", .text(coded?.reason ?? "\(error)")),
            ]
            if let path = (error as? ManifestError)?.path { entries.append(CBORMapEntry("path", .text(path))) }
            let failure = CBORValue.map([CBORMapEntry("error", .map(entries))])
            try? control.send(failure.encoded())
            return 1
        }
    }
}
