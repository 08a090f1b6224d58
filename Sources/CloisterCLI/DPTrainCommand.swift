import ArgumentParser
import CloisterCrypto
import EnclaveRuntime
import Foundation
import Glibc
import Learning
import Privacy

/// `cloister dp train`: DP-SGD on a CSV dataset, reporting test accuracy and the privacy spent.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model with DP-SGD and print its test accuracy and the privacy it spent.",
        discussion: """
            Poisson sampling at rate q = batch-size / n, per-example clipping to --clip, Gaussian noise of standard \
            deviation sigma x clip from OpenSSL's DRBG, SGD with momentum; epochs x floor(n / batch-size) steps. With \
            --epsilon, sigma is the smallest that keeps the tight (PLD) epsilon within it. The split (--test-fraction, \
            --seed) and the MLP's initial weights are seeded; sampling and noise never are. Features are clipped and \
            scaled by the public bounds of --schema (Datasets/README.md); without one they are used as they are. \
            Exit status: 0 trained, 64 bad arguments, 65 malformed data or schema, or a budget the plan would \
            exceed, 1 internal error. JSON: {"accuracy", "epsilon_pld", "epsilon_rdp", "rdp_order", "delta", \
            "noise_multiplier", "sampling_rate", "steps", "model", "train_examples", "test_examples", "examples_per_second" (sampled examples over the training loop's wall time)}.
            """
    )

    @Option(help: "The CSV file: a header row, numeric features, an integer class label column.")
    var data: String

    @Option(help: "The name of the label column.")
    var label: String

    @Option(help: "A JSON file of public feature bounds (see Datasets/README.md).")
    var schema: String?

    @Option(help: "The model: logistic (labels 0/1), softmax, or mlp (one tanh hidden layer).")
    var model: ModelKind = .logistic

    @Option(help: "Hidden units of the mlp.")
    var hiddenUnits = 32

    @Option(help: "Target epsilon: sigma is calibrated to spend at most this (tight accountant).")
    var epsilon: Double?

    @Option(help: "Noise multiplier sigma (noise std / clipping norm), instead of --epsilon.")
    var noiseMultiplier: Double?

    @Option(help: "With --noise-multiplier: refuse to train when the plan would spend more than this epsilon.")
    var maxEpsilon: Double?

    @Option(help: "Target delta, in (0, 1/n).")
    var delta: Double

    @Option(help: "Passes over the training set.")
    var epochs: Int

    @Option(help: "Expected batch size (Poisson sampling).")
    var batchSize: Int

    @Option(help: "Learning rate.")
    var lr: Double

    @Option(help: "Momentum, in [0, 1).")
    var momentum = 0.0

    @Option(help: "Per-example clipping norm C.")
    var clip: Double

    @Option(help: "Fraction of the examples held out for testing.")
    var testFraction = 0.2

    @Option(help: "Seed of the train/test split and the initial weights (not of the privacy noise).")
    var seed: UInt64 = 0

    @Option(help: "Write the trained model and its privacy report here (JSON, replaced atomically).")
    var modelOut: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

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
        guard testFraction > 0, testFraction < 1 else {
            throw ValidationError("--test-fraction must be in (0, 1), got \(testFraction)")
        }
    }

    func run() async throws {
        try reportingErrors {
            var dataset = try Dataset(csvAt: data, label: label)
            if let schema { dataset = try FeatureSchema(contentsOf: schema).apply(to: dataset) }
            let (train, test) = dataset.split(testFraction: testFraction, seed: seed)
            var plan = try DPSGDPlan(
                exampleCount: train.count, batchSize: batchSize, epochs: epochs, learningRate: lr, momentum: momentum,
                clip: clip, noiseMultiplier: noiseMultiplier ?? 1, delta: delta)
            if let epsilon { plan = try plan.calibrated(toEpsilon: epsilon) }
            if let maxEpsilon { try plan.checkBudget(maxEpsilon) }
            let initial = try Model(
                kind: model, featureCount: dataset.featureCount, classCount: dataset.classCount,
                hiddenUnits: hiddenUnits, seed: seed)
            var trainer = DPSGD(plan: plan, model: initial)
            var random = GaussianSampler(source: BufferedSecureRandom())
            let bar = ProgressBar(label: "DP-SGD", total: plan.steps)
            let clock = ContinuousClock()
            let start = clock.now
            let sampled = trainer.train(on: train, random: &random) { done, _ in bar.update(done) }
            let elapsed = start.duration(to: clock.now)
            let rate =
                Double(sampled)
                / max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18, 1e-9)
            bar.finish()
            let report = try plan.privacy()
            let accuracy = trainer.model.accuracy(on: test)
            if let modelOut {
                try AtomicFile(path: modelOut, mode: 0o644).write(
                    try TrainedModel(
                        model: trainer.model, featureNames: dataset.featureNames, plan: plan, privacy: report
                    )
                    .encoded())
            }
            if json {
                try printJSONFields([
                    "accuracy": .number(accuracy), "epsilon_pld": .number(report.epsilonPLD),
                    "epsilon_rdp": .number(report.epsilonRDP), "rdp_order": .number(report.rdpOrder),
                    "delta": .number(report.delta), "noise_multiplier": .number(report.noiseMultiplier),
                    "sampling_rate": .number(report.samplingRate), "steps": .number(Double(report.steps)),
                    "model": .text(model.rawValue), "train_examples": .number(Double(train.count)),
                    "test_examples": .number(Double(test.count)), "examples_per_second": .number(rate),
                ])
            } else {
                print("\(model.rawValue) on \(train.count) examples: test accuracy \(accuracy) on \(test.count)")
                print(
                    "epsilon \(report.epsilonPLD) (pld), \(report.epsilonRDP) (rdp, order \(report.rdpOrder)) at delta \(report.delta)"
                )
                print(
                    "noise multiplier \(report.noiseMultiplier), sampling rate \(report.samplingRate), \(report.steps) steps, \(Int(rate)) examples/s"
                )
                if let modelOut { print("model written to \(modelOut)") }
            }
        }
    }
}

/// The file `--model-out` writes: the parameters, what they mean, and the privacy they cost.
struct TrainedModel: Codable {
    let model: Model
    let featureNames: [String]
    let plan: DPSGDPlan
    let privacy: PrivacyReport

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
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
