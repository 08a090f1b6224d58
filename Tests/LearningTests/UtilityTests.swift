import CloisterCrypto
import CloisterTestSupport
import Foundation
import Learning
import Testing

/// Test accuracy of DP-SGD on the shipped datasets, mean of 10 seeds of an 80/20 split, δ = 1e-5, σ calibrated by
/// the tight accountant, noise from OpenSSL. ../shared/reference/dp_epsilons.json has the Opacus-style anchors
/// (0.9496 and 0.9645 on breast_cancer at ε = 1 and 2, 0.9207 on digits at ε = 2), which standardise features with
/// the training rows' own mean and deviation outside the accountant. Here features are scaled from public bounds and
/// centred by a private mean the accountant pays for (`PrivateCentre`, noise multiplier 20). The noise is not seeded,
/// so a 10-seed mean varies from run to run: over seven runs breast_cancer gave 0.948–0.961 (mean 0.954) at ε = 1 and
/// 0.955–0.968 (0.964) at ε = 2, digits 0.930–0.938 (0.933). The floors asserted sit about three deviations below
/// those means (digits' is the 0.92), and each run prints its means.
@Suite("DP-SGD utility on breast_cancer and digits")
struct UtilityTests {
    static func meanAccuracy(
        dataset: String, model kind: ModelKind, epsilon: Double, batchSize: Int, learningRate: Double
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
            let model = try Model(kind: kind, featureCount: data.featureCount, classCount: data.classCount)
            var trainer = DPSGD(plan: try #require(plan), model: model)
            var random = GaussianSampler(source: BufferedSecureRandom())
            trainer.train(on: train, random: &random)
            accuracies.append(trainer.model.accuracy(on: test))
        }
        return accuracies.reduce(0, +) / Double(accuracies.count)
    }

    @Test(
        "breast_cancer logistic regression at ε = 1 and 2, digits softmax regression at ε = 2",
        arguments: [
            ("breast_cancer", ModelKind.logistic, 1.0, 32, 0.3, 0.94),
            ("breast_cancer", .logistic, 2.0, 32, 0.5, 0.95),
            ("digits", .softmax, 2.0, 64, 0.5, 0.92),
        ])
    func accuracy(
        dataset: String, model: ModelKind, epsilon: Double, batchSize: Int, learningRate: Double, floor: Double
    ) throws {
        let accuracy = try Self.meanAccuracy(
            dataset: dataset, model: model, epsilon: epsilon, batchSize: batchSize, learningRate: learningRate)
        print("\(dataset) \(model) epsilon \(epsilon): mean test accuracy of 10 seeds \(accuracy)")
        #expect(accuracy >= floor)
    }
}
