import Attestation
import CloisterCBOR
import CloisterCrypto
import CloisterErrors
public import EnclaveProtocol
import Foundation

/// The platform's launch path: verify the signed manifest, measure the executable through the descriptor that will
/// run and the libraries the loader will map for it, refuse anything that changed since signing, confine the process
/// (the loader may open exactly the measured libraries), and serve it over its private channel.
///
/// The enclave's first two platform calls are a handshake the launcher answers before `launch` returns: `identity`
/// (the record, with the manifest, which carries the seccomp allow-list and the regions) and `hardened` (what the
/// enclave applied to itself). The returned record therefore lists every mechanism in force.
public struct EnclaveLauncher: Sendable {
    public let platform: Platform
    public let locator: EnclaveExecutableLocator

    public init(platform: Platform, locator: EnclaveExecutableLocator) {
        self.platform = platform
        self.locator = locator
    }

    /// Launches the enclave `signed` describes, its quotes taking `evidence` (nil: the manifest's `enclave.evidence`,
    /// else Cloister's quote); `standardStreams` are its fds 0-2.
    public func launch(
        _ signed: SignedManifest, evidence: EvidenceKind? = nil, standardStreams: StandardStreams = StandardStreams()
    ) throws -> LaunchedEnclave {
        let manifest = signed.manifest
        guard let baseDirectory = signed.baseDirectory else {
            throw ManifestError(.io, "the signed manifest has no directory to resolve its paths against")
        }
        let boundary = try HomeBoundary(home: platform.home)
        try manifest.checkUnreachable(boundary, baseDirectory: baseDirectory)
        let executable = try locator.executablePath(for: manifest.entrypoint, baseDirectory: baseDirectory)
        let image = try ExecutableImage(path: executable)
        let inputs = try signed.verifyInputs(executable: image)
        try boundary.check(inputs.libraries)
        let allowed = try Self.allowedRules(manifest, baseDirectory: baseDirectory)

        let enclaveID = hexEncoded(try SecureRandom.bytes(count: 8))
        let backingStore = try BackingStoreDirectory(enclaveID: enclaveID)
        let rules =
            FilesystemRule.runtimeFiles + FilesystemRule.loading(inputs.libraries) + allowed
            + [FilesystemRule(backingStore.path, .readWrite)]
        let channels = try EnclaveChannelSet()
        let arguments: [String]
        if case .builtin(let name) = manifest.entrypoint { arguments = [name] } else { arguments = manifest.arguments }
        let process: EnclaveProcess
        do {
            process = try EnclaveProcess.spawn(
                image: image, arguments: arguments, environment: manifest.environment, endpoints: channels.enclave,
                policy: LaunchPolicy(
                    filesystem: rules, memoryLockLimit: manifest.lockedByteCount),
                standardStreams: standardStreams)
        } catch {
            backingStore.remove()
            throw error
        }
        let record = EnclaveRecord(
            enclaveID: enclaveID,
            identity: try EnclaveIdentity(
                measurement: signed.measurement.bytes, signer: signed.signer.bytes, productID: manifest.productID,
                svn: manifest.svn, debug: manifest.debug),
            canonicalManifest: signed.canonicalManifest, mechanisms: process.mechanisms,
            platformID: platform.platformID, tcbLevel: platform.tcbLevel, backingStoreDirectory: backingStore.path,
            evidence: evidence ?? manifest.evidence ?? .cloister)
        let service = PlatformEnclaveService(platform: platform, record: record)
        let launched = LaunchedEnclave(
            process: process, host: channels.host, platform: channels.platform, service: service,
            backingStore: backingStore)
        do {
            try launched.handshake(trustedFiles: inputs.trustedFiles)
        } catch {
            _ = try? process.wait()
            backingStore.remove()
            throw error
        }
        launched.startServing()
        return launched
    }

    /// The Landlock rules for the manifest's allowed paths, each of which must exist (Landlock grants access to
    /// existing files only); the error names the key and where the path was looked for.
    private static func allowedRules(
        _ manifest: EnclaveManifest, baseDirectory: String
    ) throws(ManifestError) -> [FilesystemRule] {
        var rules: [FilesystemRule] = []
        for (index, allowed) in manifest.allowedPaths.enumerated() {
            let rule = allowed.rule(against: baseDirectory)
            guard access(rule.path, F_OK) == 0 else {
                let error = errno
                let relative = allowed.path.hasPrefix("/") ? "" : ", resolved against \(baseDirectory),"
                throw ManifestError(
                    .io,
                    "'\(allowed.path)'\(relative) cannot be reached (\(errnoText(error))): create it, or remove it "
                        + "from the manifest and sign it again",
                    keyPath: "fs.allowed[\(index)].path", path: rule.path)
            }
            rules.append(rule)
        }
        return rules
    }
}

/// A running enclave, from the platform's side: the process, the host's end of its ECALL channel, and the service
/// answering its platform channel on a thread of its own.
public final class LaunchedEnclave: Sendable {
    public let process: EnclaveProcess
    /// The host's end of the ECALL channel (hand it over with `Channel.send(_:passing:)`, or call through it).
    public let host: Channel
    private let platform: Channel
    private let service: PlatformEnclaveService
    private let backingStore: BackingStoreDirectory
    private let served = DispatchSemaphore(value: 0)

    init(
        process: EnclaveProcess, host: Channel, platform: Channel, service: PlatformEnclaveService,
        backingStore: BackingStoreDirectory
    ) {
        self.process = process
        self.host = host
        self.platform = platform
        self.service = service
        self.backingStore = backingStore
    }

    /// What the platform knows of the enclave, including the mechanisms it reported applying.
    public var record: EnclaveRecord { service.record }

    /// Answers `identity`, then one `trusted-file` per trusted file (the reply passes its sealed copy), then
    /// `hardened`; anything else first is a protocol violation that kills the enclave.
    func handshake(trustedFiles: [TrustedFileCopy]) throws {
        try answerHandshake(.identity) { try service.answer(.identity, $0) }
        for (index, file) in trustedFiles.enumerated() {
            try answerHandshake(.trustedFile, passing: file.file.descriptor) { argument in
                guard try CBORDecoder().decode(argument).uint64Value == UInt64(index) else {
                    throw PlatformError(.invalidRequest, "trusted files are handed over in order: expected \(index)")
                }
                return try CBORValue.map([CBORMapEntry("uri", .text(file.uri)), CBORMapEntry("path", .text(file.path))])
                    .encoded()
            }
        }
        try answerHandshake(.hardened) { try service.answer(.hardened, $0) }
    }

    /// Receives the enclave's next call, which must be `expected`, and answers it with `answer`, passing
    /// `descriptor` with a successful reply.
    private func answerHandshake(
        _ expected: PlatformEnclaveService.Function, passing descriptor: FileDescriptor? = nil,
        _ answer: ([UInt8]) throws -> [UInt8]
    ) throws {
        let message: EnclaveCallMessage
        do {
            message = try EnclaveCallMessage(decoding: platform.receive())
        } catch {
            _ = try? process.wait()
            throw LaunchError(
                .spawnFailed, "the enclave ended before its start-up handshake (\(expected.rawValue)): \(error)")
        }
        guard case .ecall(let id, expected.rawValue, let argument) = message else {
            try? process.signal(SIGKILL)
            throw LaunchError(.spawnFailed, "the enclave broke the start-up handshake (expected \(expected.rawValue))")
        }
        let outcome: EnclaveCallOutcome
        var failure: (any Error)?
        do {
            outcome = .returned(try answer(argument))
        } catch {
            outcome = .failed(code: "handshake", reason: "\(error)")
            failure = error
        }
        let reply = try EnclaveCallMessage.ecallResult(id: id, outcome: outcome).encoded()
        if let descriptor, failure == nil {
            try platform.send(reply, passing: descriptor)
        } else {
            try platform.send(reply)
        }
        if let failure {
            try? process.signal(SIGKILL)
            throw LaunchError(
                .spawnFailed, "the enclave's start-up handshake failed at \(expected.rawValue): \(failure)")
        }
    }

    func startServing() {
        let calls = service.calls
        let thread = Thread { [platform, served] in
            _ = try? EnclaveCallServer(channel: platform, ecalls: calls).serve()
            served.signal()
        }
        thread.start()
    }

    /// Waits for the enclave to end, stops serving it, removes its backing store and returns how it ended.
    public func wait() throws -> Termination {
        let termination = try process.wait()
        platform.shutdown()
        served.wait()
        served.signal()
        backingStore.remove()
        return termination
    }
}
