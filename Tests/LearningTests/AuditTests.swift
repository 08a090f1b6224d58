import CloisterTestSupport
import Foundation
import Learning
import Privacy
import Testing

/// The one-run audit on the real trainer: breast_cancer logistic regression, the plan `dp train` makes (80 % of the
/// rows, batches of 32, 20 epochs, C = 1, δ = 1e−5, the private centre), 1,000 gradient canaries, 95 % confidence.
/// Seeded, so each run finds the same bound.
@Suite("One-run audit of DP-SGD with gradient canaries")
struct AuditTests {
    static let data: (train: Dataset, features: Int, classes: Int) = {
        let root = TestEnvironment.packageRoot.appendingPathComponent("Datasets")
        let raw = try! Dataset(csvAt: root.appendingPathComponent("breast_cancer.csv").path, label: "label")
        let schema = try! FeatureSchema(contentsOf: root.appendingPathComponent("breast_cancer.schema.json").path)
        let data = try! schema.apply(to: raw)
        let (train, _) = data.split(testFraction: 0.2, seed: 0)
        return (train, data.featureCount, data.classCount)
    }()

    /// The plan calibrated to `claim`, trained with `noise(σ)` instead of its σ; what the guesser finds.
    static func audit(claim: Double, noise: (Double) -> Double = { $0 }, seed: UInt64) throws
        -> GradientCanaries.Finding
    {
        let (train, features, classes) = data
        let calibrated = try DPSGDPlan(
            exampleCount: train.count, batchSize: 32, epochs: 20, learningRate: 0.3, clip: 1, noiseMultiplier: 1,
            delta: 1e-5, centringNoise: DPSGDPlan.defaultCentringNoise
        ).calibrated(toEpsilon: claim)
        let plan = try DPSGDPlan(
            exampleCount: train.count, batchSize: 32, epochs: 20, learningRate: 0.3, clip: 1,
            noiseMultiplier: noise(calibrated.noiseMultiplier), delta: 1e-5,
            centringNoise: DPSGDPlan.defaultCentringNoise)
        var trainer = DPSGD(plan: plan, model: try Model(kind: .logistic, featureCount: features, classCount: classes))
        var membership = SplitMix64(seed: seed ^ 0x5eed)
        var canaries: GradientCanaries? = try GradientCanaries(count: 1_000, random: &membership)
        var random = SplitMix64(seed: seed)
        while !trainer.isFinished { trainer.step(on: train, random: &random, canaries: &canaries) }
        return try #require(canaries).finding(delta: 1e-5, confidence: 0.95)
    }

    @Test("the real trainer at ε = 1, 2 and 4: the lower bound never passes the claim", arguments: [1.0, 2, 4])
    func honest(claim: Double) throws {
        let finding = try Self.audit(claim: claim, seed: UInt64(claim * 10))
        print("audit at ε = \(claim): \(finding)")
        #expect(finding.epsilonLowerBound <= claim, "\(finding)")
    }

    @Test("the canaries cap the bound: 5.04 for 1,000 at δ = 1e−5, 6.17 for 10,000, 1.03 for 1,000 at δ = 1e−3")
    func ceiling() throws {
        for (count, delta, expected) in [(1_000, 1e-5, 5.04), (10_000, 1e-5, 6.17), (1_000, 1e-3, 1.03)] {
            let cap = try GradientCanaries.ceiling(count: count, delta: delta, confidence: 0.95)
            #expect(abs(cap - expected) < 0.005, "\(count) canaries at δ \(delta): \(cap)")
        }
        // ε = 8 is past every cap at δ = 1e−5 (the largest, about 6.2, near 10,000 canaries): no audit of 1 to
        // 100,000 canaries could refute it, so `dp audit` refuses it before training.
        for count in [1_000, 10_000, 30_000, 100_000] {
            #expect(try GradientCanaries.ceiling(count: count, delta: 1e-5, confidence: 0.95) < 8)
        }
    }

    @Test("noise switched off (σ = 1e−4) and noise a tenth of the plan's: the audit finds far more than ε = 1")
    func caught() throws {
        let silent = try Self.audit(claim: 1, noise: { _ in 1e-4 }, seed: 3)
        print("audit of a claim of ε = 1 trained without noise: \(silent)")
        #expect(silent.epsilonLowerBound >= 4, "\(silent)")
        let quiet = try Self.audit(claim: 1, noise: { $0 / 10 }, seed: 4)
        print("audit of a claim of ε = 1 trained with a tenth of its noise: \(quiet)")
        #expect(quiet.epsilonLowerBound > 2, "\(quiet)")
    }

    @Test("canaries are refused outside 1...100,000; few canaries give no guesses and a bound of 0")
    func bounds() throws {
        var random = SplitMix64(seed: 1)
        #expect(throws: LearningError.self) { _ = try GradientCanaries(count: 0, random: &random) }
        #expect(throws: LearningError.self) { _ = try GradientCanaries(count: 100_001, random: &random) }
        let one = try GradientCanaries(count: 1, random: &random)
        let finding = try one.finding(delta: 1e-5, confidence: 0.95)
        #expect(finding.guesses == 0 && finding.correct == 0 && finding.epsilonLowerBound == 0)
    }
}
