import CloisterCrypto
import Foundation

/// The platform's launch path: verify the signed manifest, measure the executable through the descriptor that will
/// run, refuse anything that changed since signing, confine the process, and serve it over its private channel.
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

    /// Launches the enclave `signed` describes; `standardStreams` are its fds 0-2.
    public func launch(
        _ signed: SignedManifest, standardStreams: StandardStreams = StandardStreams()
    ) throws -> LaunchedEnclave {
        let manifest = signed.manifest
        guard let baseDirectory = signed.baseDirectory else {
            throw ManifestError(.io, "the signed manifest has no directory to resolve its paths against")
        }
        let executable = try locator.executablePath(for: manifest.entrypoint, baseDirectory: baseDirectory)
        let image = try ExecutableImage(path: executable)
        try signed.verifyInputs(executable: image)
        let allowed = manifest.allowedPaths.map { $0.rule(against: baseDirectory) }
        try refuseAccess(to: platform.home, through: allowed)

        let enclaveID = hexEncoded(try SecureRandom.bytes(count: 8))
        let backingStore = try Self.makeBackingStoreDirectory(enclaveID: enclaveID)
        let trusted = manifest.trustedFiles.map {
            FilesystemRule(EnclaveManifest.resolve($0.path, against: baseDirectory), .readOnly)
        }
        let rules =
            FilesystemRule.runtimeLibraries + trusted + allowed + [FilesystemRule(backingStore, .readWrite)]
        let channels = try EnclaveChannelSet()
        let arguments: [String]
        if case .builtin(let name) = manifest.entrypoint { arguments = [name] } else { arguments = manifest.arguments }
        let process: EnclaveProcess
        do {
            process = try EnclaveProcess.spawn(
                image: image, arguments: arguments, environment: manifest.environment, endpoints: channels.enclave,
                policy: LaunchPolicy(
                    filesystem: rules, memoryLockLimit: EnclaveMemory.lockedByteCount(for: manifest)),
                standardStreams: standardStreams)
        } catch {
            try? FileManager.default.removeItem(atPath: backingStore)
            throw error
        }
        let record = EnclaveRecord(
            enclaveID: enclaveID,
            identity: try EnclaveIdentity(
                measurement: signed.measurement.bytes, signer: signed.signer.bytes, productID: manifest.productID,
                svn: manifest.svn, debug: manifest.debug),
            canonicalManifest: signed.canonicalManifest, mechanisms: process.mechanisms,
            platformID: platform.platformID, tcbLevel: platform.tcbLevel, backingStoreDirectory: backingStore)
        let service = PlatformEnclaveService(platform: platform, record: record)
        let launched = LaunchedEnclave(
            process: process, host: channels.host, platform: channels.platform, service: service)
        try launched.handshake()
        launched.startServing()
        return launched
    }

    /// Refuses a manifest whose allowed paths would let the enclave reach the platform's home.
    private func refuseAccess(to home: PlatformHome, through rules: [FilesystemRule]) throws {
        let homePath = Self.canonical(home.path)
        for rule in rules {
            let path = Self.canonical(rule.path)
            if homePath == path || homePath.hasPrefix(path == "/" ? "/" : path + "/") {
                throw ManifestError(
                    .invalidValue,
                    "fs.allowed path '\(rule.path)' contains the platform home \(home.path); an enclave must never "
                        + "reach the platform's secrets",
                    keyPath: "fs.allowed")
            }
        }
    }

    private static func canonical(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
    }

    /// A fresh 0700 directory for evicted pages: host-visible, holding only ciphertext.
    private static func makeBackingStoreDirectory(enclaveID: String) throws -> String {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let path = "\(base)/cloister-enclave-\(enclaveID)"
        guard mkdir(path, 0o700) == 0 else {
            throw LaunchError.systemCall("mkdir", "'\(path)' (sealed-memory backing store)")
        }
        return path
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
    private let served = DispatchSemaphore(value: 0)

    init(process: EnclaveProcess, host: Channel, platform: Channel, service: PlatformEnclaveService) {
        self.process = process
        self.host = host
        self.platform = platform
        self.service = service
    }

    /// What the platform knows of the enclave, including the mechanisms it reported applying.
    public var record: EnclaveRecord { service.record }

    /// Answers `identity` and then `hardened`; anything else first is a protocol violation that kills the enclave.
    func handshake() throws {
        for expected in [PlatformEnclaveService.Function.identity, .hardened] {
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
                throw LaunchError(
                    .spawnFailed, "the enclave broke the start-up handshake (expected \(expected.rawValue))")
            }
            let outcome: EnclaveCallOutcome
            var failure: (any Error)?
            do {
                outcome = .returned(try service.answer(expected, argument))
            } catch {
                outcome = .failed(code: "handshake", reason: "\(error)")
                failure = error
            }
            try platform.send(EnclaveCallMessage.ecallResult(id: id, outcome: outcome).encoded())
            if let failure {
                try? process.signal(SIGKILL)
                throw LaunchError(
                    .spawnFailed, "the enclave's start-up handshake failed at \(expected.rawValue): \(failure)")
            }
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
        try? FileManager.default.removeItem(atPath: record.backingStoreDirectory)
        return termination
    }
}
