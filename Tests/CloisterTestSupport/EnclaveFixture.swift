import Attestation
public import CloisterCrypto
public import EnclavePlatform
public import EnclaveProtocol
public import Foundation
public import Verifier

/// A platform in a temporary home with one of `Manifests/` signed by the development key, launching its enclaves in
/// process (the platform's launcher, as `cloister platform launch` runs it), and the relying party's view of it.
public struct EnclaveFixture: Sendable {
    public let directory: URL
    public let home: PlatformHome
    public let platform: Platform
    public let signed: SignedManifest
    public let launcher: EnclaveLauncher

    /// Signs `Manifests/NAME.toml`, its text changed by `edit`, beside a copy of `Manifests/data` (the files the
    /// shipped manifests trust), into a fresh platform home.
    public init(manifest name: String, editing edit: (String) -> String = { $0 }) throws {
        directory = try TestEnvironment.temporaryDirectory(name)
        try FileManager.default.copyItem(
            at: TestEnvironment.packageRoot.appendingPathComponent("Manifests/data"),
            to: directory.appendingPathComponent("data"))
        home = PlatformHome(path: directory.appendingPathComponent("home").path)
        platform = try Platform.initialize(home: home, curve: .p256, amdKeyBits: 2048)
        let manifest = directory.appendingPathComponent("\(name).toml")
        let text = try String(
            contentsOf: TestEnvironment.packageRoot.appendingPathComponent("Manifests/\(name).toml"), encoding: .utf8)
        try edit(text).write(to: manifest, atomically: true, encoding: .utf8)
        let locator = EnclaveExecutableLocator(
            enclaveExecutable: TestEnvironment.productsDirectory + "/cloister-enclave", runningExecutableDirectory: nil)
        let key = try ECPrivateKey(
            pemRepresentation: String(
                contentsOf: TestEnvironment.packageRoot.appendingPathComponent("Keys/dev-signer.pem"), encoding: .utf8))
        let path = directory.appendingPathComponent("\(name).manifest.cose").path
        try SignedManifest.sign(manifestAt: manifest.path, with: key, locator: locator).write(to: path)
        signed = try SignedManifest(contentsOf: path)
        launcher = EnclaveLauncher(platform: platform, locator: locator)
    }

    public var measurement: String { hexEncoded(signed.measurement.bytes) }

    /// The policy a relying party would hold for this enclave: its measurement (or `measurement`), on a simulated
    /// platform, signed with the development key.
    public func policy(measurement: String? = nil) -> Policy {
        Policy(
            id: "test-policy", measurements: [measurement ?? self.measurement], allowSimulated: true,
            allowDevelopmentKeys: true, maximumAgeSeconds: 300)
    }

    public func appraiser() throws -> Appraiser {
        Appraiser(
            evidence: EvidenceVerifier(trust: try home.publishedTrust().trustStore),
            signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "tests"))
    }

    /// Launches an enclave of the manifest; `body` gets it and a caller of its ECALLs. The enclave ends after `body`.
    @discardableResult
    public func withEnclave<T>(_ body: (LaunchedEnclave, EnclaveCaller) throws -> T) throws -> T {
        let enclave = try launcher.launch(signed)
        defer {
            enclave.host.shutdown()
            _ = try? enclave.wait()
        }
        return try body(enclave, EnclaveCaller(channel: enclave.host))
    }

    /// `withEnclave(_:)` for a test whose calls are asynchronous.
    public func withEnclave<T>(_ body: (LaunchedEnclave, EnclaveCaller) async throws -> T) async throws -> T {
        let enclave = try launcher.launch(signed)
        defer {
            enclave.host.shutdown()
            _ = try? enclave.wait()
        }
        return try await body(enclave, EnclaveCaller(channel: enclave.host))
    }
}
