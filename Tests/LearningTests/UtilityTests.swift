import CloisterCrypto
import CloisterTestSupport
import Foundation
import Learning
import Testing

/// Test accuracy of DP-SGD on the shipped datasets, mean of 10 seeds of an 80/20 split, δ = 1e-5, σ calibrated by
/// the tight accountant, noise from OpenSSL, asserted against the targets (0.95 and 0.96 on breast_cancer at
/// ε = 1 and 2, 0.92 on digits at ε = 2). ../shared/reference/dp_epsilons.json has the Opacus-style anchors (0.9496,
/// 0.9645, 0.9207), which standardise features with the training rows' own statistics outside any accountant; here
/// features are scaled from public bounds and centred by a private mean the accountant pays for (`PrivateCentre`).
///
/// The noise is not seeded, so one 10-seed mean varies from run to run (standard deviation ≈ 0.0033; over 20 runs of
/// the CLI: 0.9567, 0.9639 and 0.9306 on average, and 3 of the 20 at ε = 2 fell below 0.96). Each seed's accuracy is
/// therefore averaged over `draws` independent trainings. Over nine runs of this test with 8 draws on breast_cancer and
/// 2 on digits, the means were 0.9526–0.9569 at ε = 1, 0.9614–0.9650 at ε = 2 and 0.9287–0.9355 on digits
/// (deviations 0.0017, 0.0013, 0.0020). With 16 draws four runs gave 0.9510–0.9548 at ε = 1, 0.9620–0.9638 at
/// ε = 2 and 0.9284–0.9330 on digits, so ε = 1, the closest to its target in this (debug) build, takes 32 draws.
/// Each run prints its means.
@Suite("DP-SGD utility on breast_cancer and digits")
struct UtilityTests {
    static func meanAccuracy(
        dataset: String, model kind: ModelKind, epsilon: Double, batchSize: Int, learningRate: Double, draws: Int
    ) throws -> Double {
        let root = TestEnvironment.packageRoot.appendingPathComponent("Datasets")
        let raw = try Dataset(csvAt: root.appendingPathComponent("\(dataset).csv").path, label: "label")
        let schema = try FeatureSchema(contentsOf: root.appendingPathComponent("\(dataset).schema.json").path)
        let data = try schema.apply(to: raw)
        var accuracies: [Double] = []
        var plan: DPSGDPlan?
        for seed in 0..<10 {
            let (train, test) = data.split(testFraction: 0.2, seed: UInt64(seed))
            if plan == nil {
                plan = try DPSGDPlan(
                    exampleCount: train.count, batchSize: batchSize, epochs: 20, learningRate: learningRate, clip: 1,
                    noiseMultiplier: 1, delta: 1e-5, centringNoise: DPSGDPlan.defaultCentringNoise
                ).calibrated(toEpsilon: epsilon)
            }
            for _ in 0..<draws {
                let model = try Model(kind: kind, featureCount: data.featureCount, classCount: data.classCount)
                var trainer = DPSGD(plan: try #require(plan), model: model)
                var random = BufferedSecureRandom()
                while !trainer.isFinished { trainer.step(on: train, random: &random) }
                accuracies.append(trainer.model.accuracy(on: test))
            }
        }
        return accuracies.reduce(0, +) / Double(accuracies.count)
    }

    @Test(
        "breast_cancer logistic regression at ε = 1 and 2, digits softmax regression at ε = 2",
        arguments: [
            ("breast_cancer", ModelKind.logistic, 1.0, 32, 0.3, 32, 0.95),
            ("breast_cancer", .logistic, 2.0, 32, 0.5, 16, 0.96),
            ("digits", .softmax, 2.0, 64, 0.5, 2, 0.92),
        ])
    func accuracy(
        dataset: String, model: ModelKind, epsilon: Double, batchSize: Int, learningRate: Double, draws: Int,
        target: Double
    ) throws {
        let accuracy = try Self.meanAccuracy(
            dataset: dataset, model: model, epsilon: epsilon, batchSize: batchSize, learningRate: learningRate,
            draws: draws)
        print("\(dataset) \(model) epsilon \(epsilon): mean test accuracy of 10 seeds × \(draws) draws \(accuracy)")
        #expect(accuracy >= target)
    }
}
