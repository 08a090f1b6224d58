import ArgumentParser
import CloisterCrypto
import ConfidentialProtocol
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Learning
import Privacy

/// `cloister dp audit`: an empirical lower bound on the ε a DP-SGD configuration spends, beside the accountant's.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Audit a DP-SGD configuration: an empirical lower bound on epsilon beside the accountant's.",
        discussion: """
            The one-run audit of Steinke, Nasr and Jagielski (NeurIPS 2023) with white-box gradient canaries: \
            --canaries extra records, each a member of the training set with probability 1/2 (a secret drawn from \
            OpenSSL's DRBG), with gradient C on a coordinate of its own, are sampled and noised by the trainer's own \
            step exactly like the examples, in one training run of the plan `dp train` would run with the same \
            options. A guesser then names the canaries with the highest released scores members and the lowest not \
            (at 1, 2, 5, 10, 20 and 40 % of the canaries, the confidence split evenly over them), and the number it \
            gets right bounds epsilon from below at --confidence. The bound is far below the claim for a correct \
            trainer; a bound above the accountant's epsilon means the trainer spends more than it claims. The \
            canaries cap the bound (every guess right: 5.04 for 1,000 canaries at delta 1e-5 and 95 %, 6.17 for \
            10,000; the delta term 2 x canaries x delta lowers it), so a claim at or above the cap is refused before \
            training (exit 64): no result of that audit could refute it. The canaries test the \
            sampling rate, noise, clip, step count and accounting, not the clipping of real examples. \
            With --enclave (and the attestation options of `dp train`), the audit runs inside the dpsgd enclave: the \
            canaries' membership is the enclave's secret, their scores travel in its sealed checkpoints, and the \
            audit's result is part of the training result the attested key signs. \
            Exit status: 0 audited and the bound is within the claim, 2 the bound exceeds the accountant's epsilon, \
            64 bad arguments or a claim the canaries cannot test, 65 malformed data or schema; with --enclave also \
            those of `dp train --enclave`. JSON: {"epsilon", "epsilon_lower", "accountant", \
            "delta", "confidence", "canaries", "guesses", "correct", "noise_multiplier", "sampling_rate", "steps", \
            "accuracy", "epsilon_lower_max"}, and "enclave_measurement" with --enclave.
            """
    )

    @OptionGroup var dataset: DatasetOptions

    @Option(help: "The model: logistic (labels 0/1), softmax, or mlp (one tanh hidden layer).")
    var model: ModelKind = .logistic

    @Option(parsing: .unconditional, help: "Hidden units of the mlp.")
    var hiddenUnits = 32

    @Option(parsing: .unconditional, help: "Target epsilon the plan is calibrated to (tight accountant).")
    var epsilon: Double?

    @Option(parsing: .unconditional, help: "Noise multiplier sigma, instead of --epsilon.")
    var noiseMultiplier: Double?

    @Option(parsing: .unconditional, help: "Target delta, in (0, 1/n).")
    var delta: Double

    @Option(parsing: .unconditional, help: "Passes over the training set.")
    var epochs = 20

    @Option(parsing: .unconditional, help: "Expected batch size (Poisson sampling).")
    var batchSize = 32

    @Option(parsing: .unconditional, help: "Learning rate.")
    var lr = 0.3

    @Option(parsing: .unconditional, help: "Momentum, in [0, 1).")
    var momentum = 0.0

    @Option(parsing: .unconditional, help: "Per-example clipping norm C.")
    var clip = 1.0

    @OptionGroup var preparation: PreparationOptions

    @Option(parsing: .unconditional, help: "Number of gradient canaries, 1 to 100,000.")
    var canaries = 1_000

    @Option(parsing: .unconditional, help: "Confidence of the lower bound, in (0, 1).")
    var confidence = 0.95

    @OptionGroup var inEnclave: EnclaveTrainingOptions

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard (1...GradientCanaries.maximumCount).contains(canaries) else {
            throw ValidationError("--canaries must be in 1...\(GradientCanaries.maximumCount), got \(canaries)")
        }
        guard confidence > 0, confidence < 1 else {
            throw ValidationError("--confidence must be in (0, 1), got \(confidence)")
        }
    }

    func run() throws {
        try reportingErrors {
            let spec = TrainingSpec(
                label: dataset.label, model: model, hiddenUnits: hiddenUnits, epsilon: epsilon,
                noiseMultiplier: noiseMultiplier, delta: delta, epochs: epochs, batchSize: batchSize,
                learningRate: lr, momentum: momentum, clip: clip, centringNoise: preparation.centring,
                testFraction: preparation.testFraction, seed: preparation.seed,
                audit: AuditSpec(canaries: canaries, confidence: confidence))
            try spec.validate()
            let signed = try inEnclave.signedManifest()
            let csv = try TrainCommand.read(dataset.data, .malformedData)
            let schemaBytes = try dataset.schema.map { try TrainCommand.read($0, .malformedSchema) }
            if signed != nil { try EnclaveTrainingOptions.checkRequestSize(csv: csv, schema: schemaBytes, dataset) }
            let setup = try TrainingSetup(
                csv: csv, source: dataset.data, schema: schemaBytes, schemaSource: dataset.schema ?? "", spec: spec)
            let report = try setup.plan.privacy()
            guard let claim = report.tightestFirst.first else { throw ExitCode.failure }
            let ceiling = try GradientCanaries.ceiling(
                count: canaries, delta: setup.plan.delta, confidence: confidence)
            guard claim.epsilon < ceiling else {
                throw ValidationError(
                    "the plan's epsilon \(claim.epsilon) is not below \(ceiling), the most \(canaries) canaries can show at delta \(setup.plan.delta) and confidence \(confidence): the audit could not catch a trainer that spends more. Audit a smaller epsilon, or change --canaries (the ceiling grows with them while 2 x canaries x delta stays well below 1) or --delta"
                )
            }
            let (audit, accuracy, measurement) =
                if let signed {
                    try auditInEnclave(signed, setup: setup, csv: csv, schema: schemaBytes)
                } else {
                    try auditHere(setup)
                }
            if json {
                var fields: [String: JSONScalar] = [
                    "epsilon": .number(claim.epsilon), "epsilon_lower": .number(audit.epsilonLower),
                    "accountant": .text(claim.accountant.rawValue), "delta": .number(setup.plan.delta),
                    "confidence": .number(audit.confidence), "canaries": .number(Double(audit.canaries)),
                    "guesses": .number(Double(audit.guesses)), "correct": .number(Double(audit.correct)),
                    "noise_multiplier": .number(setup.plan.noiseMultiplier),
                    "sampling_rate": .number(setup.plan.samplingRate), "steps": .number(Double(setup.plan.steps)),
                    "accuracy": .number(accuracy), "epsilon_lower_max": .number(audit.epsilonLowerMax),
                ]
                if let measurement { fields["enclave_measurement"] = .text(measurement) }
                try printJSONFields(fields)
            } else {
                if let measurement { print("audited in enclave \(measurement); its key signed the result") }
                print(
                    "epsilon \(claim.epsilon) (\(claim.accountant.rawValue)) at delta \(setup.plan.delta); audited lower bound \(audit.epsilonLower) at confidence \(audit.confidence) (at most \(audit.epsilonLowerMax) with \(audit.canaries) canaries)"
                )
                print(
                    "\(audit.correct) of \(audit.guesses) guesses right about \(audit.canaries) canaries; noise multiplier \(setup.plan.noiseMultiplier), sampling rate \(setup.plan.samplingRate), \(setup.plan.steps) steps; test accuracy \(accuracy)"
                )
            }
            guard audit.epsilonLower <= claim.epsilon else {
                printToStandardError(
                    "error: the audit's lower bound \(audit.epsilonLower) exceeds the accountant's epsilon \(claim.epsilon): this configuration spends more privacy than it claims"
                )
                throw ExitCode(2)
            }
        }
    }

    /// Trains with the canaries here, their membership drawn from OpenSSL's DRBG: the report and the test accuracy.
    private func auditHere(_ setup: TrainingSetup) throws -> (AuditReport, Double, String?) {
        var secret = BufferedSecureRandom()
        var audited: GradientCanaries? = try GradientCanaries(count: canaries, random: &secret)
        var trainer = DPSGD(plan: setup.plan, model: setup.initialModel)
        let streams = try SecureRandomStreams()
        var random = streams.stream(0)
        let bar = ProgressBar(label: "DP-SGD with \(canaries) canaries", total: setup.plan.steps)
        while !trainer.isFinished {
            trainer.step(on: setup.train, random: &random, noiseStreams: streams, canaries: &audited)
            bar.update(trainer.stepsTaken)
        }
        bar.finish()
        let report = try audited!.report(delta: setup.plan.delta, confidence: confidence)
        return (report, setup.accuracy(of: trainer.model), nil)
    }

    /// Trains with the canaries in the enclave `--enclave` launches: the report and accuracy its attested key signed,
    /// and its measurement.
    private func auditInEnclave(
        _ manifest: (path: String, manifest: SignedManifest), setup: TrainingSetup, csv: [UInt8], schema: [UInt8]?
    ) throws -> (AuditReport, Double, String?) {
        let (result, measurement) = try inEnclave.train(
            manifest, setup: setup, csv: csv, schema: schema, dataset: dataset, policyID: "dp-audit-enclave",
            progress: "DP-SGD with \(canaries) canaries in the enclave")
        // `TrainingResult.check` refused a result without the audit the spec asks for.
        guard let audit = result.audit else { throw ExitCode.failure }
        return (audit, result.accuracy, measurement)
    }
}
