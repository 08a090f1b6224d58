import CloisterCrypto
import Foundation
import Learning
import Privacy
import Testing

@Suite("Private feature centring: the release, its accounting, and the model that folds it in")
struct CentringTests {
    static func dataset(_ rows: [[Double]]) throws -> Dataset {
        let header = (0..<rows[0].count).map { "x\($0)" }.joined(separator: ",") + ",label"
        let lines = rows.enumerated().map { index, row in row.map { "\($0)" }.joined(separator: ",") + ",\(index % 2)" }
        return try Dataset(csv: ([header] + lines).joined(separator: "\n"), label: "label")
    }

    static func plan(exampleCount: Int = 455, sigma: Double = 1, centring: Double? = 20) throws -> DPSGDPlan {
        try DPSGDPlan(
            exampleCount: exampleCount, batchSize: 32, epochs: 20, learningRate: 0.5, clip: 1, noiseMultiplier: sigma,
            delta: 1e-5, centringNoise: centring)
    }

    @Test("a model folded at μ predicts on x what the model predicts on x − μ", arguments: DPSGDTests.kinds)
    func folding(kind: ModelKind, classes: Int) throws {
        let model = try DPSGDTests.randomModel(kind, classes: classes, seed: 5)
        var generator = SplitMix64(seed: 11)
        for _ in 0..<20 {
            let centre = (0..<5).map { _ in Double.random(in: -1...1, using: &generator) }
            let x = (0..<5).map { _ in Double.random(in: -1...1, using: &generator) }
            let folded = model.folding(centre: centre).probabilities(row: x)
            let shifted = model.probabilities(row: zip(x, centre).map { $0 - $1 })
            #expect(zip(folded, shifted).allSatisfy { abs($0 - $1) < 1e-12 }, "\(folded) vs \(shifted)")
        }
    }

    @Test("adding or removing one example moves the clipped sum by at most C = √d / 2, however large the row")
    func sensitivity() throws {
        var generator = SplitMix64(seed: 7)
        let bound = PrivateCentre.clip(featureCount: 4)
        #expect(bound == 1)
        for _ in 0..<50 {
            let rows = (0..<20).map { _ in (0..<4).map { _ in Double.random(in: -1...1, using: &generator) } }
            let scale = Double.random(in: 0...1000, using: &generator)
            let extra = (0..<4).map { _ in scale * Double.random(in: -1...1, using: &generator) }
            let mechanism = try DiscreteGaussianMechanism(clip: bound, noiseMultiplier: 2)
            let without = PrivateCentre.clippedSum(try Self.dataset(rows), mechanism: mechanism)
            let with = PrivateCentre.clippedSum(try Self.dataset(rows + [extra]), mechanism: mechanism)
            // Exactly: the sums are integers, and one row moves them by at most Δ grid units.
            let moved = zip(with, without).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
            #expect(moved <= mechanism.sensitivity * mechanism.sensitivity, "moved \(moved) units²")
        }
    }

    @Test("the released centre is the clipped mean plus Gaussian noise of standard deviation σC/n per feature")
    func noiseScale() throws {
        let rows: [[Double]] = (0..<50).map { (index: Int) -> [Double] in
            [0.2, 0.1 * Double(index % 3) - 0.1, 0.05, -0.3]
        }
        let data = try Self.dataset(rows)
        let mechanism = try DiscreteGaussianMechanism(clip: PrivateCentre.clip(featureCount: 4), noiseMultiplier: 2)
        let mean = PrivateCentre.clippedSum(data, mechanism: mechanism).map { Double($0) * mechanism.step / 50 }
        var random = BufferedSecureRandom()
        var errors: [Double] = []
        for _ in 0..<2000 {
            let centre = PrivateCentre.estimate(data, mechanism: mechanism, random: &random)
            errors += zip(centre, mean).map { ($0 - $1) / (2 * PrivateCentre.clip(featureCount: 4) / 50) }
        }
        let average = errors.reduce(0, +) / Double(errors.count)
        let deviation = (errors.reduce(0) { $0 + $1 * $1 } / Double(errors.count)).squareRoot()
        #expect(abs(average) < 5 / Double(errors.count).squareRoot(), "mean error \(average)")
        #expect(abs(deviation - 1) < 0.05, "deviation \(deviation)")
    }

    @Test("the first step releases the centre; the published model is the training model folded at it")
    func firstStepCentres() throws {
        let rows: [[Double]] = (0..<100).map { (index: Int) -> [Double] in
            [0.5 + 0.1 * Double(index % 5), -0.8, Double(index % 2) - 0.5]
        }
        let data = try Self.dataset(rows)
        let model = try Model(kind: .logistic, featureCount: 3, classCount: 2)
        var random = BufferedSecureRandom()
        var trainer = DPSGD(plan: try Self.plan(exampleCount: 100, centring: 1000), model: model)
        #expect(trainer.centre == nil)
        trainer.step(on: data, random: &random)
        let centre = try #require(trainer.centre)
        #expect(centre.count == 3 && centre.allSatisfy { (-1...1).contains($0) })
        #expect(trainer.model == trainer.trainingModel.folding(centre: centre))
        trainer.step(on: data, random: &random)
        #expect(trainer.centre == centre, "released once, kept")

        var uncentred = DPSGD(plan: try Self.plan(exampleCount: 100, centring: nil), model: model)
        uncentred.step(on: data, random: &random)
        #expect(uncentred.centre == nil && uncentred.model == uncentred.trainingModel)
    }

    @Test("the accountant composes the centre once with the steps, from the first step on")
    func accounting() throws {
        let plan = try Self.plan()
        let mechanism = try plan.mechanism
        let release = try SubsampledGaussian(samplingRate: 1, noiseMultiplier: 20)
        let expected = try PLDAccountant().composing(release, steps: 1).composing(mechanism, steps: plan.steps)
            .epsilon(delta: 1e-5)
        let report = try plan.privacy()
        let pld = try #require(report.epsilon(by: .pld))
        #expect(abs(pld - expected) < 1e-12)
        #expect(report.preprocessingNoiseMultiplier == 20)
        #expect(pld > (try #require(Self.plan(centring: nil).privacy().epsilon(by: .pld))))
        let none = try plan.privacy(afterSteps: 0)
        #expect(none.epsilon(by: .pld) == 0 && none.preprocessingNoiseMultiplier == nil)
        #expect(try plan.privacy(afterSteps: 1).preprocessingNoiseMultiplier == 20)
    }

    @Test("calibration pays for the centre: more noise than without, the target met; a centre costing it all refused")
    func calibration() throws {
        let centred = try Self.plan().calibrated(toEpsilon: 1)
        let plain = try Self.plan(centring: nil).calibrated(toEpsilon: 1)
        let report = try centred.privacy()
        let pld = try #require(report.epsilon(by: .pld))
        #expect(pld <= 1 && pld > 0.99, "\(pld)")
        #expect(centred.noiseMultiplier > plain.noiseMultiplier && centred.centringNoise == 20)
        #expect { try Self.plan(centring: 2).calibrated(toEpsilon: 1) } throws: {
            ($0 as? PrivacyError)?.code == .unreachableTarget
                && ($0 as? PrivacyError)?.reason.contains("released before the steps") == true
        }
        #expect { try Self.plan(centring: 0) } throws: { ($0 as? LearningError)?.reason.contains("centring") == true }
        #expect(throws: PrivacyError.self) { try Self.plan(sigma: 1, centring: 2).checkBudget(1) }
    }
}
