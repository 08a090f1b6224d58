import ArgumentParser
import CloisterCrypto
import ConfidentialProtocol
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Glibc
import Learning
import Privacy

/// `cloister dp train`: DP-SGD on a CSV dataset, here or inside an attested enclave, reporting test accuracy and the
/// privacy spent.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model with DP-SGD and print its test accuracy and the privacy it spent.",
        discussion: """
            Poisson sampling at rate q = batch-size / n, per-example clipping to --clip, noise of standard deviation \
            sigma x clip drawn exactly from the discrete Gaussian on a grid 2^20 times finer than it (OpenSSL's \
            DRBG), SGD with momentum; epochs x floor(n / batch-size) steps. With \
            --epsilon, sigma is the smallest that keeps the tight (PLD) epsilon within it. The split (--test-fraction, \
            --seed) and the MLP's initial weights are seeded; sampling and noise never are. Features are clipped and \
            scaled by the public bounds of --schema (Datasets/README.md; `cloister dp schema` drafts one); --unscaled \
            uses them as they are; with neither the command refuses. \
            Before the first step the features' mean is released with the same exact noise (rows clipped to norm \
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

    @OptionGroup var inEnclave: EnclaveTrainingOptions

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
            let signed = try inEnclave.signedManifest()
            let csv = try Self.read(dataset.data, .malformedData)
            let schemaBytes = try dataset.schema.map { try Self.read($0, .malformedSchema) }
            if signed != nil { try EnclaveTrainingOptions.checkRequestSize(csv: csv, schema: schemaBytes, dataset) }
            let setup = try TrainingSetup(
                csv: csv, source: dataset.data, schema: schemaBytes, schemaSource: dataset.schema ?? "", spec: spec)
            let outcome =
                if let signed {
                    try trainInEnclave(signed, setup: setup, csv: csv, schema: schemaBytes)
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
        let streams = try SecureRandomStreams()
        var random = streams.stream(0)
        let bar = ProgressBar(label: "DP-SGD", total: setup.plan.steps)
        let clock = ContinuousClock()
        let start = clock.now
        let sampled = trainer.train(on: setup.train, random: &random, noiseStreams: streams) { done, _ in
            bar.update(done)
        }
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
        _ manifest: (path: String, manifest: SignedManifest), setup: TrainingSetup, csv: [UInt8], schema: [UInt8]?
    ) throws -> Outcome {
        let (result, measurement) = try inEnclave.train(
            manifest, setup: setup, csv: csv, schema: schema, dataset: dataset, policyID: "dp-train-enclave",
            progress: "DP-SGD in the enclave")
        return Outcome(
            trained: result.trained, accuracy: result.accuracy, trainExamples: result.trainExamples,
            testExamples: result.testExamples, enclaveMeasurement: measurement,
            resumedFromStep: result.resumedFromStep)
    }

    /// The bytes of the file at `path`; an unreadable file is a `code` error naming it.
    static func read(_ path: String, _ code: LearningError.Code) throws(LearningError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LearningError(code, "\(path): cannot be read")
        }
        return Array(data)
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
