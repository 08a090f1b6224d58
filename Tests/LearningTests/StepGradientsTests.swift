import CloisterCrypto
import Privacy
import Testing

@testable import Learning

@Suite("A step's gradients on two cores: batches shared with the step thread, the same exact sum")
struct StepGradientsTests {
    @Test(
        "the sum with the step thread is the sum without it, whoever computes which batch",
        arguments: [0, 1, 31, 32, 63, 64, 1_000, 1_300])
    func sameSum(examples: Int) throws {
        var generator = try KeyedRandomStream(key: [UInt8](repeating: 3, count: 32), stream: UInt64(examples))
        // 5 × 49 + 3 × 6 = 263 parameters, past `smallestShared`: its batches are shared.
        var model = try Model(kind: .mlp, featureCount: 48, classCount: 3, hiddenUnits: 5, seed: 1)
        #expect(model.parameters.count >= StepGradients.smallestShared)
        model.parameters = model.parameters.map { _ in Double.random(in: -2...2, using: &generator) }
        let mechanism = try DiscreteGaussianMechanism(
            clip: 1, noiseMultiplier: 1, roundedCoordinates: model.parameters.count)
        let rows = (0..<examples).map { _ in (0..<48).map { _ in Double.random(in: -3...3, using: &generator) } }
        let labels = (0..<examples).map { _ in Int.random(in: 0..<3, using: &generator) }
        func units(helper: StepThread?) -> (units: [Int64], helped: Int) {
            let gradients = StepGradients(model: model, mechanism: mechanism, helper: helper)
            #expect(gradients.sharesBatches == (helper != nil))
            for (row, label) in zip(rows, labels) {
                row.withUnsafeBufferPointer { gradients.append($0, label: label, centre: nil) }
            }
            let units = gradients.finish().units()
            return (units, gradients.batchesHelped)
        }
        let alone = units(helper: nil).units
        #expect(examples == 0 || alone.contains { $0 != 0 })
        var helped = 0
        for _ in 0..<10 {
            let shared = units(helper: StepThread.shared)
            #expect(shared.units == alone)
            helped += shared.helped
        }
        // On two cores the step thread takes some of 10 × 40 batches (the test is then not the one-thread sum twice).
        if StepThread.shared != nil && examples >= 1_000 { #expect(helped > 0, "the step thread took no batch") }
    }

    /// A model with fewer than `smallestShared` parameters keeps every batch on the step's thread (handing one over
    /// cost more than it took: breast_cancer's 31 parameters).
    @Test("a small model's batches are not offered to the step thread")
    func smallModelAlone() throws {
        let model = try Model(kind: .logistic, featureCount: 30, classCount: 2, seed: 1)
        let mechanism = try DiscreteGaussianMechanism(
            clip: 1, noiseMultiplier: 1, roundedCoordinates: model.parameters.count)
        let gradients = StepGradients(model: model, mechanism: mechanism, helper: StepThread.shared)
        #expect(!gradients.sharesBatches)
        let row = [Double](repeating: 0.5, count: 30)
        for _ in 0..<200 { row.withUnsafeBufferPointer { gradients.append($0, label: 1, centre: nil) } }
        #expect(gradients.finish().units().contains { $0 != 0 })
        #expect(gradients.batchesHelped == 0)
    }
}
