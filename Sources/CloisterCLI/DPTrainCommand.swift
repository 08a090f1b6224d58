import ArgumentParser
import Attestation
import CloisterCrypto
import ConfidentialProtocol
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Glibc
import Learning
import Privacy
import RelyingParty
import Verifier

/// `cloister dp train`: DP-SGD on a CSV dataset, here or inside an attested enclave, reporting test accuracy and the
/// privacy spent.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model with DP-SGD and print its test accuracy and the privacy it spent.",
        discussion: """
            Poisson sampling at rate q = batch-size / n, per-example clipping to --clip, Gaussian noise of standard \
            deviation sigma x clip from OpenSSL's DRBG, SGD with momentum; epochs x floor(n / batch-size) steps. With \
            --epsilon, sigma is the smallest that keeps the tight (PLD) epsilon within it. The split (--test-fraction, \
            --seed) and the MLP's initial weights are seeded; sampling and noise never are. Features are clipped and \
            scaled by the public bounds of --schema (Datasets/README.md; `cloister dp schema` drafts one); --unscaled \
            uses them as they are; with neither the command refuses. \
            Before the first step the features' mean is released with Gaussian noise (rows clipped to norm \
            sqrt(d)/2, noise multiplier --centring-noise) and every step trains on the features minus it; the \
            accountant composes that release once with the steps, and the published model folds it into its biases. \
            --no-centring skips it.

            With --enclave, training runs in the dpsgd enclave the signed manifest launches: this command checks the \
            enclave's quote on a fresh nonce against the platform root of --home and a policy (default: the \
            manifest's measurement, simulated platform allowed, development keys only with \
            --allow-development-keys), sends the data HPKE-encrypted to the key the quote binds, stores the \
            enclave's sealed checkpoints in --checkpoint, and accepts the model only when the attested key signed it \
            for this request and its privacy report is the accountant's for its plan. Killed and rerun with the same \
            arguments, it resumes from the last checkpoint and counts the steps before it once.

            Exit status: 0 trained, 2 the enclave's quote or signed result refused, 64 bad arguments, 65 malformed \
            data, schema or manifest, a missing signed manifest, a CSV past the enclave's 16 MiB request limit, or a \
            budget the plan would exceed, 78 no platform, 1 internal or enclave \
            failure. JSON: {"accuracy", "epsilon_pld", "epsilon_rdp", "rdp_order", "delta", "noise_multiplier", \
            "sampling_rate", "steps", "centring_noise_multiplier" (null with --no-centring), "model", \
            "train_examples", "test_examples"} plus "examples_per_second" \
            (sampled examples over the training loop's wall time) here, or "enclave_measurement" and \
            "resumed_from_step" with --enclave.
            """
    )

    @OptionGroup var dataset: DatasetOptions

    @Option(help: "The model: logistic (labels 0/1), softmax, or mlp (one tanh hidden layer).")
    var model: ModelKind = .logistic

    @Option(parsing: .unconditional, help: "Hidden units of the mlp.")
    var hiddenUnits = 32

    @Option(
        parsing: .unconditional, help: "Target epsilon: sigma is calibrated to spend at most this (tight accountant).")
    var epsilon: Double?

    @Option(parsing: .unconditional, help: "Noise multiplier sigma (noise std / clipping norm), instead of --epsilon.")
    var noiseMultiplier: Double?

    @Option(
        parsing: .unconditional,
        help: "With --noise-multiplier: refuse to train when the plan would spend more than this epsilon.")
    var maxEpsilon: Double?

    @Option(parsing: .unconditional, help: "Target delta, in (0, 1/n).")
    var delta: Double

    @Option(parsing: .unconditional, help: "Passes over the training set.")
    var epochs: Int

    @Option(parsing: .unconditional, help: "Expected batch size (Poisson sampling).")
    var batchSize: Int

    @Option(parsing: .unconditional, help: "Learning rate.")
    var lr: Double

    @Option(parsing: .unconditional, help: "Momentum, in [0, 1).")
    var momentum = 0.0

    @Option(parsing: .unconditional, help: "Per-example clipping norm C.")
    var clip: Double

    @OptionGroup var preparation: PreparationOptions

    @Option(help: "Write the trained model and its privacy report here (JSON, replaced atomically).")
    var modelOut: String?

    @Option(help: "Train inside the enclave this signed manifest launches (e.g. Manifests/dpsgd.manifest.cose).")
    var enclave: String?

    @Option(help: "With --enclave: the platform home (default: $CLOISTER_HOME, else ~/.cloister).")
    var home: String?

    @Option(
        help: "With --enclave: the evidence its quotes take: \(EvidenceKind.names) (default: the manifest's).")
    var evidence: EvidenceKind?

    @Option(
        help: """
            With --enclave: the sealed checkpoint file (default: $XDG_STATE_HOME, else ~/.local/state, then \
            /cloister/checkpoints/dpsgd-ID.sealed, ID a digest of the manifest, data path and options).
            """)
    var checkpoint: String?

    @Option(help: "With --enclave: appraise the quote under this policy (TOML or JSON) instead of the default.")
    var policy: String?

    @Flag(help: "With --enclave: accept an enclave signed with the public development key (Keys/dev-signer.pem).")
    var allowDevelopmentKeys = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    private var spec: TrainingSpec {
        TrainingSpec(
            label: dataset.label, model: model, hiddenUnits: hiddenUnits, epsilon: epsilon,
            noiseMultiplier: noiseMultiplier,
            maxEpsilon: maxEpsilon, delta: delta, epochs: epochs, batchSize: batchSize, learningRate: lr,
            momentum: momentum, clip: clip, centringNoise: preparation.centring,
            testFraction: preparation.testFraction, seed: preparation.seed)
    }

    func validate() throws {
        guard (epsilon == nil) != (noiseMultiplier == nil) else {
            throw ValidationError("give exactly one of --epsilon and --noise-multiplier")
        }
        if let epsilon, !(epsilon > 0 && epsilon.isFinite) {
            throw ValidationError("--epsilon must be positive, got \(epsilon)")
        }
        if maxEpsilon != nil && noiseMultiplier == nil {
            throw ValidationError("--max-epsilon goes with --noise-multiplier (--epsilon is a budget already)")
        }
        if let maxEpsilon, !(maxEpsilon > 0) {
            throw ValidationError("--max-epsilon must be positive, got \(maxEpsilon)")
        }
        if enclave == nil
            && (home != nil || checkpoint != nil || policy != nil || allowDevelopmentKeys || evidence != nil)
        {
            throw ValidationError(
                "--home, --evidence, --checkpoint, --policy and --allow-development-keys go with --enclave")
        }
        if policy != nil && allowDevelopmentKeys {
            throw ValidationError("--allow-development-keys shapes the default policy; with --policy, say it there")
        }
    }

    /// What a run produced, wherever it ran.
    private struct Outcome {
        let trained: TrainedModel
        let accuracy: Double
        let trainExamples: Int
        let testExamples: Int
        var examplesPerSecond: Double?
        var enclaveMeasurement: String?
        var resumedFromStep: Int?

        var details: [String: JSONScalar] {
            var fields: [String: JSONScalar] = [:]
            if let examplesPerSecond { fields["examples_per_second"] = .number(examplesPerSecond) }
            if let enclaveMeasurement { fields["enclave_measurement"] = .text(enclaveMeasurement) }
            if let resumedFromStep { fields["resumed_from_step"] = .number(Double(resumedFromStep)) }
            return fields
        }
    }

    func run() async throws {
        try reportingErrors {
            let signed = try enclave.map { path throws(ManifestError) in
                try CommandInput.signedManifest(path, "--enclave")
            }
            let csv = try Self.read(dataset.data, .malformedData)
            let schemaBytes = try dataset.schema.map { try Self.read($0, .malformedSchema) }
            if signed != nil {
                // Refused here, before the data is parsed or an enclave launched, as the enclave would refuse it.
                try TrainingCall.checkRequestSize(
                    csv.count + (schemaBytes?.count ?? 0),
                    of: dataset.schema.map { "--data \(dataset.data) with --schema \($0)" } ?? "--data \(dataset.data)")
            }
            let setup = try TrainingSetup(
                csv: csv, source: dataset.data, schema: schemaBytes, schemaSource: dataset.schema ?? "", spec: spec)
            let outcome =
                if let enclave, let signed {
                    try trainInEnclave(enclave, signed: signed, setup: setup, csv: csv, schema: schemaBytes)
                } else {
                    try trainHere(setup)
                }
            if let modelOut { try AtomicFile(path: modelOut, mode: 0o644).write(try outcome.trained.encoded()) }
            let report = outcome.trained.privacy
            if json {
                try printJSONFields(
                    [
                        "accuracy": .number(outcome.accuracy), "delta": .number(report.delta),
                        "noise_multiplier": .number(report.noiseMultiplier),
                        "sampling_rate": .number(report.samplingRate), "steps": .number(Double(report.steps)),
                        "centring_noise_multiplier": report.preprocessingNoiseMultiplier.map(JSONScalar.number)
                            ?? .null,
                        "model": .text(model.rawValue), "train_examples": .number(Double(outcome.trainExamples)),
                        "test_examples": .number(Double(outcome.testExamples)),
                    ].merging(report.jsonFields) { $1 }.merging(outcome.details) { $1 })
            } else {
                print(
                    "\(model.rawValue) on \(outcome.trainExamples) examples: test accuracy \(outcome.accuracy) on \(outcome.testExamples)"
                )
                let epsilons = report.tightestFirst.map { spent in
                    "\(spent.epsilon) (\(spent.accountant.rawValue)\(spent.order.map { ", order \($0)" } ?? ""))"
                }
                print("epsilon \(epsilons.joined(separator: ", ")) at delta \(report.delta)")
                print(
                    "noise multiplier \(report.noiseMultiplier), sampling rate \(report.samplingRate), \(report.steps) steps"
                        + (report.preprocessingNoiseMultiplier.map {
                            ", after a feature centre at noise multiplier \($0)"
                        }
                            ?? "")
                )
                if let rate = outcome.examplesPerSecond { print("\(Int(rate)) examples/s") }
                if let measurement = outcome.enclaveMeasurement, let resumed = outcome.resumedFromStep {
                    print("trained in enclave \(measurement)" + (resumed > 0 ? ", resumed from step \(resumed)" : ""))
                }
                if let modelOut { print("model written to \(modelOut)") }
            }
        }
    }

    private func trainHere(_ setup: TrainingSetup) throws -> Outcome {
        var trainer = DPSGD(plan: setup.plan, model: setup.initialModel)
        var random = BufferedSecureRandom()
        let bar = ProgressBar(label: "DP-SGD", total: setup.plan.steps)
        let clock = ContinuousClock()
        let start = clock.now
        let sampled = trainer.train(on: setup.train, random: &random) { done, _ in bar.update(done) }
        let elapsed = start.duration(to: clock.now)
        bar.finish()
        let rate =
            Double(sampled)
            / max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18, 1e-9)
        return Outcome(
            trained: TrainedModel(
                model: trainer.model, featureNames: setup.featureNames, plan: setup.plan,
                privacy: try setup.plan.privacy()),
            accuracy: setup.accuracy(of: trainer.model), trainExamples: setup.train.count,
            testExamples: setup.test.count, examplesPerSecond: rate)
    }

    private func trainInEnclave(
        _ manifest: String, signed: SignedManifest, setup: TrainingSetup, csv: [UInt8], schema: [UInt8]?
    ) throws -> Outcome {
        let measurement = hexEncoded(signed.measurement.bytes)
        let appraiser = try RelyingParty.appraiser(home: home)
        let policy = try RelyingParty.policy(
            file: policy, id: "dp-train-enclave", measurement: measurement, allowDevelopmentKeys: allowDevelopmentKeys)
        let checkpointFile = try AtomicFile(path: checkpoint ?? defaultCheckpoint(measurement))
        let (platform, _, channel) = try RunCommand.launch(manifest: manifest, home: home, evidence: evidence)
        defer {
            channel.shutdown()
            _ = try? platform.waitForEnclave()
        }
        let caller = EnclaveCaller(channel: channel)
        let client = TrainingClient(
            transport: { try caller.call($0, $1) }, appraiser: appraiser, policy: policy)
        let attested = try client.attest()
        printToStandardError("cloister: quote \(attested.status.rawValue) under policy '\(policy.id)'")
        let bar = ProgressBar(label: "DP-SGD in the enclave", total: setup.plan.steps)
        let result = try client.train(
            csv: csv, schema: schema, setup: setup, in: attested, checkpoint: checkpointFile
        ) { done, _ in bar.update(done) }
        bar.finish()
        return Outcome(
            trained: result.trained, accuracy: result.accuracy, trainExamples: result.trainExamples,
            testExamples: result.testExamples,
            enclaveMeasurement: attested.measurement ?? measurement,
            resumedFromStep: result.resumedFromStep)
    }

    /// The bytes of the file at `path`; an unreadable file is a `code` error naming it.
    static func read(_ path: String, _ code: LearningError.Code) throws(LearningError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LearningError(code, "\(path): cannot be read")
        }
        return Array(data)
    }

    /// STATE/cloister/checkpoints/dpsgd-ID.sealed (STATE: $XDG_STATE_HOME, else ~/.local/state), ID a digest of
    /// what the host already knows (manifest measurement, data path, options), never of the data, so the same
    /// command finds its checkpoint again.
    private func defaultCheckpoint(_ measurement: String) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let state =
            environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.path + "/.local/state"
        let directory = state + "/cloister/checkpoints"
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ValidationError("cannot create the checkpoint directory \(directory) (choose one with --checkpoint)")
        }
        let options = try JSONEncoder().encode(spec)
        let key =
            [
                measurement, URL(fileURLWithPath: dataset.data).standardizedFileURL.path, dataset.schema ?? "",
                String(decoding: options, as: UTF8.self),
            ]
            .joined(separator: "\n")
        return directory + "/dpsgd-" + hexEncoded(Array(DigestAlgorithm.sha256.hash(Array(key.utf8)).prefix(16)))
            + ".sealed"
    }
}

/// A one-line progress bar on standard error, drawn only when it is a terminal, at most 50 times a run.
final class ProgressBar {
    private let label: String
    private let total: Int
    private let visible = isatty(STDERR_FILENO) == 1
    private var drawn = -1

    init(label: String, total: Int) {
        self.label = label
        self.total = max(total, 1)
    }

    func update(_ done: Int) {
        let filled = done * 50 / total
        guard visible, filled != drawn else { return }
        drawn = filled
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: 50 - filled)
        FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total)".utf8))
    }

    func finish() {
        if visible { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

extension PrivacyReport {
    /// The `--json` fields of its ε: `epsilon_ACCOUNTANT` for each accountant, and `rdp_order` with RDP's.
    var jsonFields: [String: JSONScalar] {
        var fields: [String: JSONScalar] = [:]
        for spent in epsilons {
            fields["epsilon_\(spent.accountant.rawValue)"] = .number(spent.epsilon)
            if let order = spent.order { fields["\(spent.accountant.rawValue)_order"] = .number(order) }
        }
        return fields
    }
}
