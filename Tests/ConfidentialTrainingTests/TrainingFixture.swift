import Attestation
import CloisterCrypto
import CloisterTestSupport
import ConfidentialTraining
import EnclaveRuntime
import Foundation
import Learning
import Synchronization
import Verifier

/// A platform in a temporary home with `Manifests/dpsgd.toml` signed by the development key, launching dpsgd
/// enclaves in process (the platform's launcher, as `cloister platform launch` runs it).
struct TrainingFixture {
    let directory: URL
    let home: PlatformHome
    let platform: Platform
    let signed: SignedManifest
    let launcher: EnclaveLauncher

    init() throws {
        directory = try TestEnvironment.temporaryDirectory("confidential-training")
        home = PlatformHome(path: directory.appendingPathComponent("home").path)
        platform = try Platform.initialize(home: home, curve: .p256)
        let manifest = directory.appendingPathComponent("dpsgd.toml")
        try FileManager.default.copyItem(
            at: TestEnvironment.packageRoot.appendingPathComponent("Manifests/dpsgd.toml"), to: manifest)
        let locator = EnclaveExecutableLocator(
            enclaveExecutable: TestEnvironment.productsDirectory + "/cloister-enclave", runningExecutableDirectory: nil)
        let key = try ECPrivateKey(
            pemRepresentation: String(
                contentsOf: TestEnvironment.packageRoot.appendingPathComponent("Keys/dev-signer.pem"), encoding: .utf8))
        let path = directory.appendingPathComponent("dpsgd.manifest.cose").path
        try SignedManifest.sign(manifestAt: manifest.path, with: key, locator: locator).write(to: path)
        signed = try SignedManifest(contentsOf: path)
        launcher = EnclaveLauncher(platform: platform, locator: locator)
    }

    var measurement: String { hexEncoded(signed.measurement.bytes) }

    /// The policy a data owner would hold for this enclave: its measurement, on a simulated platform, signed with the
    /// development key.
    func policy(measurement: String? = nil) -> Policy {
        Policy(
            id: "dpsgd-test", measurements: [measurement ?? self.measurement], allowSimulated: true,
            allowDevelopmentKeys: true, maximumAgeSeconds: 300)
    }

    func appraiser() throws -> Appraiser {
        Appraiser(
            evidence: EvidenceVerifier(trust: try home.publishedTrust().trustStore),
            signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "tests"))
    }

    /// Launches a dpsgd enclave; `body` gets it and a client whose every ECALL passes through `relay` (the host).
    @discardableResult
    func withEnclave<T>(
        measurement: String? = nil,
        relay: @escaping @Sendable (String, [UInt8], TrainingClient.Transport) throws -> [UInt8] = {
            try $2($0, $1)
        }, _ body: (LaunchedEnclave, TrainingClient) throws -> T
    ) throws -> T {
        let enclave = try launcher.launch(signed)
        defer {
            enclave.host.shutdown()
            _ = try? enclave.wait()
        }
        let caller = EnclaveCaller(channel: enclave.host)
        let direct: TrainingClient.Transport = { try caller.call($0, $1) }
        let client = TrainingClient(
            transport: { try relay($0, $1, direct) }, appraiser: try appraiser(),
            policy: policy(measurement: measurement))
        return try body(enclave, client)
    }

    /// breast_cancer with its schema, prepared as the client prepares it.
    static func breastCancer(csv: [UInt8]? = nil, epochs: Int = 4) throws -> (
        csv: [UInt8], schema: [UInt8], setup: TrainingSetup
    ) {
        let datasets = TestEnvironment.packageRoot.appendingPathComponent("Datasets")
        let csv = try csv ?? Array(Data(contentsOf: datasets.appendingPathComponent("breast_cancer.csv")))
        let schema = Array(try Data(contentsOf: datasets.appendingPathComponent("breast_cancer.schema.json")))
        let dataset = try FeatureSchema(json: schema, source: "schema").apply(
            to: Dataset(csv: csv, label: "label", source: "breast_cancer.csv"))
        let spec = TrainingSpec(
            label: "label", noiseMultiplier: 1.1, delta: 1e-5, epochs: epochs, batchSize: 32, learningRate: 0.3,
            clip: 1, seed: 3)
        return (csv, schema, try TrainingSetup(dataset: dataset, spec: spec))
    }
}

/// Everything that crossed the host, in order: (function, argument, reply).
final class HostRecording: Sendable {
    private let calls = Mutex<[(String, [UInt8], [UInt8])]>([])

    func record(_ function: String, _ argument: [UInt8], _ reply: [UInt8]) {
        calls.withLock { $0.append((function, argument, reply)) }
    }

    var functions: [String] { calls.withLock { $0.map(\.0) } }
    var bytes: [[UInt8]] { calls.withLock { $0.flatMap { [$0.1, $0.2] } } }
}

extension Array where Element == UInt8 {
    func containsBytes(_ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { self[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
