import CloisterCrypto
import CloisterTestSupport
import Foundation
import Learning
import Privacy
import Testing

@Suite("Models, per-example clipping and DP-SGD")
struct DPSGDTests {
    static let kinds: [(ModelKind, Int)] = [(.logistic, 2), (.softmax, 4), (.mlp, 3)]

    /// A model with small random parameters, so every gradient term is exercised.
    static func randomModel(_ kind: ModelKind, classes: Int, features: Int = 5, seed: UInt64 = 1) throws -> Model {
        var model = try Model(kind: kind, featureCount: features, classCount: classes, hiddenUnits: 4, seed: seed)
        var generator = SplitMix64(seed: seed)
        model.parameters = model.parameters.map { _ in Double.random(in: -1...1, using: &generator) }
        return model
    }

    @Test("every model's gradient matches central finite differences of its loss", arguments: kinds)
    func gradientMatchesFiniteDifferences(kind: ModelKind, classes: Int) throws {
        let model = try Self.randomModel(kind, classes: classes)
        let row = [0.3, -0.7, 0.1, 0.9, -0.2]
        for label in 0..<classes {
            let gradient = model.gradient(row: row, label: label)
            for index in model.parameters.indices {
                var plus = model
                var minus = model
                plus.parameters[index] += 1e-6
                minus.parameters[index] -= 1e-6
                let numeric = (plus.loss(row: row, label: label) - minus.loss(row: row, label: label)) / 2e-6
                #expect(abs(numeric - gradient[index]) < 1e-6, "parameter \(index), label \(label)")
            }
        }
    }

    @Test("clipping bounds every per-example gradient by C and leaves smaller ones unchanged", arguments: kinds)
    func clippingBoundsEveryGradient(kind: ModelKind, classes: Int) throws {
        var generator = SplitMix64(seed: 3)
        let model = try Self.randomModel(kind, classes: classes, seed: 9)
        for clip in [0.01, 0.5, 1, 100] {
            for _ in 0..<200 {
                let row = (0..<5).map { _ in Double.random(in: -3...3, using: &generator) }
                let label = Int.random(in: 0..<classes, using: &generator)
                let gradient = model.gradient(row: row, label: label)
                let clipped = model.gradient(row: row, label: label, clippedTo: clip)
                let norm = clipped.reduce(0) { $0 + $1 * $1 }.squareRoot()
                let original = gradient.reduce(0) { $0 + $1 * $1 }.squareRoot()
                #expect(norm <= clip * (1 + 1e-12))
                // The clipped gradient is the full one scaled by min(1, C/‖g‖), its norm taken element by element.
                let expected = gradient.map { $0 * min(1, clip / original) }
                #expect(zip(clipped, expected).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, abs($1)) })
                if original <= clip { #expect(clipped == gradient) }
            }
        }
    }

    @Test("a gradient that is not finite contributes nothing")
    func nonFiniteGradientsAreDropped() throws {
        #expect(PerExampleClipping.factor(norm: .nan, bound: 1) == 0)
        #expect(PerExampleClipping.factor(norm: .infinity, bound: 1) == 0)
        let model = try Model(kind: .softmax, featureCount: 2, classCount: 3)
        #expect(model.gradient(row: [.infinity, 1], label: 0, clippedTo: 1).allSatisfy { $0 == 0 })
    }

    @Test("the noise of a step is Gaussian with standard deviation σC/B in every coordinate")
    func noiseScale() throws {
        // Two runs from one seeded source sample the same examples; with σ → 0 in the second, their difference is
        // the noise alone, scaled by the learning rate over the expected batch size.
        let data = try Dataset(
            csv: "x,label\n" + (0..<100).map { "\(Double($0) / 100),\($0 % 2)" }.joined(separator: "\n"),
            label: "label")
        let plan = try DPSGDPlan(
            exampleCount: 100, batchSize: 100, epochs: 1, learningRate: 1, clip: 0.5, noiseMultiplier: 3, delta: 1e-3)
        let model = try Model(kind: .logistic, featureCount: 1, classCount: 2)
        var updates: [Double] = []
        for seed in 0..<400 {
            // Every example in the batch (q = 1), so only the noise differs from a σ → 0 run.
            var noisy = SplitMix64(seed: UInt64(seed))
            var quiet = SplitMix64(seed: UInt64(seed))
            var trainer = DPSGD(plan: plan, model: model)
            var reference = DPSGD(
                plan: try DPSGDPlan(
                    exampleCount: 100, batchSize: 100, epochs: 1, learningRate: 1, clip: 0.5,
                    noiseMultiplier: SubsampledGaussian.noiseMultiplierRange.lowerBound,
                    delta: 1e-3), model: model)
            trainer.step(on: data, random: &noisy)
            reference.step(on: data, random: &quiet)
            updates += zip(trainer.model.parameters, reference.model.parameters).map { $0 - $1 }
        }
        let deviation = (updates.reduce(0) { $0 + $1 * $1 } / Double(updates.count)).squareRoot()
        #expect(abs(deviation / (3 * 0.5 / 100) - 1) < 0.1)
        #expect(kolmogorovSmirnov(updates.map { $0 / (3 * 0.5 / 100) }) < 0.1)
    }

    @Test("Poisson sampling: the batch size has mean qn and variance nq(1 − q); q = 1 takes every example")
    func poissonSampling() throws {
        let data = try Dataset(
            csv: "x,label\n" + (0..<200).map { "\(Double($0) / 200),\($0 % 2)" }.joined(separator: "\n"), label: "label"
        )
        let model = try Model(kind: .logistic, featureCount: 1, classCount: 2)
        for batch in [5, 50, 200] {
            let plan = try DPSGDPlan(
                exampleCount: 200, batchSize: batch, epochs: 1, learningRate: 0.1, clip: 1, noiseMultiplier: 1,
                delta: 1e-3)
            var random = BufferedSecureRandom()
            var trainer = DPSGD(plan: plan, model: model)
            let sizes = (0..<2000).map { _ in Double(trainer.step(on: data, random: &random)) }
            let mean = sizes.reduce(0, +) / Double(sizes.count)
            let variance = sizes.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(sizes.count - 1)
            let q = plan.samplingRate
            let expectedVariance = 200 * q * (1 - q)
            if batch == 200 {
                #expect(sizes.allSatisfy { $0 == 200 })
            } else {
                #expect(abs(mean - Double(batch)) < 5 * (expectedVariance / Double(sizes.count)).squareRoot())
                #expect(abs(variance / expectedVariance - 1) < 0.15)
            }
        }
    }

    @Test("plans refuse bad parameters: delta ≥ 1/n, epsilon ≤ 0, a budget overrun")
    func badPlans() throws {
        func plan(delta: Double = 1e-5, batch: Int = 32, sigma: Double = 1) throws -> DPSGDPlan {
            try DPSGDPlan(
                exampleCount: 455, batchSize: batch, epochs: 20, learningRate: 0.5, clip: 1, noiseMultiplier: sigma,
                delta: delta)
        }
        #expect { try plan(delta: 1.0 / 455) } throws: { ($0 as? LearningError)?.reason.contains("1/n") == true }
        #expect(throws: LearningError.self) { try plan(delta: 0) }
        #expect(throws: LearningError.self) { try plan(batch: 0) }
        #expect(throws: LearningError.self) { try plan(batch: 456) }
        #expect(throws: LearningError.self) { try plan(sigma: 0) }
        // Only noise the accountants can analyse, and only as many steps as they compose: refused, never trapped.
        #expect { try plan(sigma: 1e-300) } throws: {
            ($0 as? LearningError)?.reason.hasPrefix("DP-SGD: noise multiplier must be in") == true
        }
        #expect { try plan(sigma: 1e300) } throws: { ($0 as? LearningError)?.code == .invalidParameter }
        for epochs in [Int.max, RDPAccountant.Composition.maximumSteps / 14 + 1] {
            #expect {
                try DPSGDPlan(
                    exampleCount: 455, batchSize: 32, epochs: epochs, learningRate: 0.5, clip: 1, noiseMultiplier: 1,
                    delta: 1e-5)
            } throws: {
                ($0 as? LearningError)?.reason
                    == "\(epochs) epochs of 14 steps are more than the 1073741824 steps the accountants compose"
            }
        }
        #expect {
            try DPSGDPlan(
                exampleCount: 455, batchSize: 32, epochs: 1, learningRate: 0.5, clip: 1, noiseMultiplier: 1,
                delta: 1e-5, centringNoise: 1e-9)
        } throws: {
            ($0 as? LearningError)?.reason.hasPrefix("the centring release: noise multiplier must be in") == true
        }
        #expect { try plan().calibrated(toEpsilon: 0) } throws: {
            ($0 as? PrivacyError)?.code == .invalidParameter
        }
        #expect { try plan(sigma: 0.5).checkBudget(1) } throws: { ($0 as? PrivacyError)?.code == .budgetExceeded }
        try plan(sigma: 5).checkBudget(1)
    }

    @Test("a model's shape is bounded before anything is allocated: classes, features, hidden units, parameters")
    func modelBounds() throws {
        let limit = Model.maximumParameterCount
        // At the class limit, and a small MLP; then every way past a limit, including products that would overflow.
        #expect(
            try Model(kind: .softmax, featureCount: 3, classCount: Model.maximumClassCount).parameters.count == 4000)
        #expect(try Model(kind: .mlp, featureCount: 3, classCount: 2, hiddenUnits: 2).parameters.count == 14)
        for (kind, features, classes, hidden, expected) in [
            (ModelKind.softmax, 3, Model.maximumClassCount + 1, 0, "at most 1000 classes, not 1001"),
            (.softmax, 3, 2_000_000_000, 0, "at most 1000 classes"),
            (.softmax, limit / 1000, 1000, 0, "has more than 16777216 parameters"),
            (.logistic, limit, 2, 0, "has more than 16777216 parameters"),
            (.logistic, .max, 2, 0, "has more than 16777216 parameters"),
            (.mlp, 30, 2, .max, "30 features, 2 classes, 9223372036854775807 hidden units has more than"),
            (.mlp, .max, 2, .max, "has more than 16777216 parameters"),
            (.mlp, 1 << 12, 2, 1 << 12, "has more than 16777216 parameters"),
        ] {
            #expect {
                try Model(kind: kind, featureCount: features, classCount: classes, hiddenUnits: hidden)
            } throws: { error in
                let error = error as? LearningError
                return error?.code == .invalidParameter && error?.reason.contains(expected) == true
            }
        }
    }

    @Test("calibration meets the target: the tight epsilon of the calibrated plan is at most, and within 1 % of, it")
    func calibration() throws {
        let plan = try DPSGDPlan(
            exampleCount: 455, batchSize: 32, epochs: 20, learningRate: 0.5, clip: 1, noiseMultiplier: 1, delta: 1e-5
        ).calibrated(toEpsilon: 1)
        let report = try plan.privacy()
        let pld = try #require(report.epsilon(by: .pld))
        #expect(pld <= 1 && pld > 0.99)
        #expect(try #require(report.epsilon(by: .rdp)) > pld)
        #expect(report.steps == 280 && abs(report.samplingRate - 32.0 / 455) < 1e-15)
    }
}
