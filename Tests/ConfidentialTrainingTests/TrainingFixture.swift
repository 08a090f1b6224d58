import Attestation
import CloisterCrypto
import CloisterTestSupport
import ConfidentialProtocol
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Learning
import RelyingParty
import Synchronization
import Testing
import Verifier

/// The dpsgd enclave (`Manifests/dpsgd.toml`) on a test platform, and data owners' clients of it.
struct TrainingFixture {
    let enclaves: EnclaveFixture

    /// The dpsgd manifest as shipped, or changed by `edit` (a smaller resident budget, another region size).
    init(editing edit: (String) -> String = { $0 }) throws {
        enclaves = try EnclaveFixture(manifest: "dpsgd", editing: edit)
    }

    var directory: URL { enclaves.directory }

    /// Launches a dpsgd enclave; `body` gets it and a client whose every ECALL passes through `relay` (the host).
    @discardableResult
    func withEnclave<T>(
        measurement: String? = nil,
        relay: @escaping @Sendable (String, [UInt8], TrainingClient.Transport) throws -> [UInt8] = {
            try $2($0, $1)
        }, _ body: (LaunchedEnclave, TrainingClient) throws -> T
    ) throws -> T {
        try enclaves.withEnclave { enclave, caller in
            let direct: TrainingClient.Transport = { try caller.call($0, $1) }
            let client = TrainingClient(
                transport: { try relay($0, $1, direct) }, appraiser: try enclaves.appraiser(),
                policy: enclaves.policy(measurement: measurement))
            return try body(enclave, client)
        }
    }

    /// Trains `setup` with a host that stops relaying at the `cut`-th step call (the client sees a `CancellationError`)
    /// and then kills the enclave (SIGKILL); `atStep` sees each step call's number before it is relayed.
    func trainAndKill(
        csv: [UInt8], schema: [UInt8], setup: TrainingSetup, checkpoint: AtomicFile, cutAt cut: Int,
        atStep: @escaping @Sendable (Int) throws -> Void = { _ in }
    ) throws {
        let steps = Mutex(0)
        try withEnclave(
            relay: { function, argument, forward in
                if function == TrainingCall.step {
                    let count = steps.withLock {
                        $0 += 1
                        return $0
                    }
                    try atStep(count)
                    if count == cut { throw CancellationError() }
                }
                return try forward(function, argument)
            }
        ) { enclave, client in
            let attested = try client.attest()
            #expect(throws: CancellationError.self) {
                try client.train(csv: csv, schema: schema, setup: setup, in: attested, checkpoint: checkpoint)
            }
            try enclave.process.signal(SIGKILL)
            #expect(try enclave.wait() == .signaled(SIGKILL))
        }
    }

    /// breast_cancer with its schema, prepared as the client prepares it.
    static func breastCancer(csv: [UInt8]? = nil, epochs: Int = 4, audit: AuditSpec? = nil) throws -> (
        csv: [UInt8], schema: [UInt8], setup: TrainingSetup
    ) {
        let datasets = TestEnvironment.packageRoot.appendingPathComponent("Datasets")
        let csv = try csv ?? Array(Data(contentsOf: datasets.appendingPathComponent("breast_cancer.csv")))
        let schema = Array(try Data(contentsOf: datasets.appendingPathComponent("breast_cancer.schema.json")))
        let spec = TrainingSpec(
            label: "label", noiseMultiplier: 1.1, delta: 1e-5, epochs: epochs, batchSize: 32, learningRate: 0.3,
            clip: 1, centringNoise: DPSGDPlan.defaultCentringNoise, seed: 3, audit: audit)
        return (
            csv, schema,
            try TrainingSetup(
                csv: csv, source: "breast_cancer.csv", schema: schema, schemaSource: "schema", spec: spec)
        )
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
