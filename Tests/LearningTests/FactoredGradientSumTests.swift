import CMatrixKernels
import CloisterCrypto
import Foundation
import Privacy
import Testing

@testable import Learning

@Suite("DP-SGD's exact factored sum: records as integer outer products on a finer grid, rounded once")
struct FactoredGradientSumTests {
    static let kinds: [(ModelKind, Int)] = [(.logistic, 2), (.softmax, 4), (.mlp, 3)]

    /// A model with random parameters and rows of 6 features: some ordinary, some huge, some all zero, some one-hot.
    static func model(_ kind: ModelKind, classes: Int, seed: UInt64) throws -> Model {
        var model = try Model(kind: kind, featureCount: 6, classCount: classes, hiddenUnits: 5, seed: seed)
        var generator = SplitMix64(seed: seed)
        model.parameters = model.parameters.map { _ in Double.random(in: -2...2, using: &generator) }
        return model
    }

    static func row(_ trial: Int, _ generator: inout KeyedRandomStream) -> [Double] {
        switch trial % 5 {
        case 0: (0..<6).map { _ in Double.random(in: -1e6...1e6, using: &generator) }
        case 1: Array(repeating: 0, count: 6)
        case 2: (0..<6).map { $0 == trial % 6 ? 1 : 0 }
        case 3: (0..<6).map { _ in Double.random(in: -1e-6...1e-6, using: &generator) }
        default: (0..<6).map { _ in Double.random(in: -3...3, using: &generator) }
        }
    }

    /// The released integers of `records` (rows and labels) added in order, a batch at a time.
    static func units(_ model: Model, _ mechanism: DiscreteGaussianMechanism, _ records: [([Double], Int)]) -> [Int64] {
        let sum = FactoredGradientSum(mechanism: mechanism, coordinates: model.parameters.count)
        _ = add(records, model, sum)
        return sum.units()
    }

    /// Adds `records` to `sum` a batch at a time; how many were admitted.
    static func add(_ records: [([Double], Int)], _ model: Model, _ sum: FactoredGradientSum) -> Int {
        let batch = ExampleBatch(for: model)
        let step = StepModel(model)
        var admitted = 0
        for (row, label) in records {
            row.withUnsafeBufferPointer { batch.append($0, label: label, centre: nil) }
            if batch.isFull { admitted += step.addGradients(batch, into: sum) }
        }
        return admitted + step.addGradients(batch, into: sum)
    }

    @Test("one record more or less moves the released integers by at most Δ + ⌈√d⌉ in L2, exactly", arguments: kinds)
    func sensitivity(kind: ModelKind, classes: Int) throws {
        var generator = try KeyedRandomStream(key: [UInt8](repeating: 7, count: 32), stream: 1)
        for (clip, z) in [(1.0, 1.1), (0.05, 0.5), (40, 3)] {
            let model = try Self.model(kind, classes: classes, seed: UInt64(clip * 100))
            let mechanism = try DiscreteGaussianMechanism(
                clip: clip, noiseMultiplier: z, roundedCoordinates: model.parameters.count)
            #expect(mechanism.roundingSlack > 0)
            let bound = UInt128(mechanism.releaseSensitivity) * UInt128(mechanism.releaseSensitivity)
            for trial in 0..<150 {
                let batch = (0..<Int.random(in: 0...12, using: &generator)).map { index in
                    (Self.row(trial + index, &generator), Int.random(in: 0..<classes, using: &generator))
                }
                let extra = (Self.row(trial, &generator), Int.random(in: 0..<classes, using: &generator))
                let without = Self.units(model, mechanism, batch)
                let with = Self.units(model, mechanism, batch + [extra])
                let squares = zip(with, without).reduce(UInt128(0)) { total, pair in
                    let difference = (Int128(pair.0) - Int128(pair.1)).magnitude
                    return total + UInt128(difference) * UInt128(difference)
                }
                #expect(squares <= bound, "C \(clip), trial \(trial): \(squares) > \(bound)")
            }
        }
    }

    @Test("the released sum is the clipped gradients' sum on the grid, to far below the noise", arguments: kinds)
    func accuracy(kind: ModelKind, classes: Int) throws {
        var generator = try KeyedRandomStream(key: [UInt8](repeating: 8, count: 32), stream: 1)
        let model = try Self.model(kind, classes: classes, seed: 3)
        let mechanism = try DiscreteGaussianMechanism(
            clip: 1, noiseMultiplier: 1, roundedCoordinates: model.parameters.count)
        let records = (0..<200).map { trial in
            (Self.row(trial, &generator), Int.random(in: 0..<classes, using: &generator))
        }
        let released = Self.units(model, mechanism, records).map { Double($0) * mechanism.step }
        var expected = [Double](repeating: 0, count: model.parameters.count)
        for (row, label) in records {
            for (index, value) in model.gradient(row: row, label: label, clippedTo: 1).enumerated() {
                expected[index] += value
            }
        }
        // Each record's factors carry about 22 bits, so each of its coordinates is within about 2⁻²⁰·C; the rounding
        // adds half a step. The noise's deviation is a step times 2²⁰.
        for (got, want) in zip(released, expected) {
            #expect(abs(got - want) <= 200 * 0x1p-19 + mechanism.step, "\(got) vs \(want)")
        }
    }

    @Test("the sum is exact: any order of the records, across the double-precision blocks, gives the same integers")
    func exactInAnyOrder() throws {
        var generator = try KeyedRandomStream(key: [UInt8](repeating: 9, count: 32), stream: 1)
        let model = try Self.model(.mlp, classes: 3, seed: 5)
        let mechanism = try DiscreteGaussianMechanism(
            clip: 1, noiseMultiplier: 1, roundedCoordinates: model.parameters.count)
        // 1,300 records: more than two blocks of 2⁵³⁻⁴⁴ = 512.
        let records = (0..<1_300).map { trial in
            (Self.row(trial, &generator), Int.random(in: 0..<3, using: &generator))
        }
        let forward = Self.units(model, mechanism, records)
        #expect(forward == Self.units(model, mechanism, records.reversed()))
        #expect(forward == Self.units(model, mechanism, records.shuffled(using: &generator)))
        #expect(forward.contains { $0 != 0 })
    }

    @Test("a record's integers do not depend on its place in a batch: every rotation of a batch gives the same sum")
    func placeInTheBatch() throws {
        var generator = try KeyedRandomStream(key: [UInt8](repeating: 10, count: 32), stream: 1)
        for kind in [ModelKind.softmax, .mlp] {
            var model = try Model(kind: kind, featureCount: 37, classCount: 3, hiddenUnits: 9, seed: 2)
            model.parameters = model.parameters.map { _ in Double.random(in: -1...1, using: &generator) }
            let mechanism = try DiscreteGaussianMechanism(
                clip: 1, noiseMultiplier: 1, roundedCoordinates: model.parameters.count)
            // 62 records, in batches of 32 and 30: each rotation moves records between the batches, and between the
            // kernels' full tiles of four rows and the two rows left over.
            let records = (0..<62).map { _ in
                (
                    (0..<37).map { _ in Double.random(in: -3...3, using: &generator) },
                    Int.random(in: 0..<3, using: &generator)
                )
            }
            let first = Self.units(model, mechanism, records)
            for shift in 1..<8 {
                let rotated = Array(records[shift...] + records[..<shift])
                #expect(Self.units(model, mechanism, rotated) == first, "\(kind), rotated by \(shift)")
            }
        }
    }

    @Test("the exact norm check: a record scaled past C is refused; at C it is admitted, within Δ")
    func normCheck() throws {
        let mechanism = try DiscreteGaussianMechanism(clip: 1, noiseMultiplier: 1, roundedCoordinates: 6)
        // With the bias's 1, ‖ã‖ = √2, so the record's norm is √2 times the factor.
        for (factor, admitted) in [(1 / 2.squareRoot(), true), (1.0001 / 2.squareRoot(), false), (1, false)] {
            var errors = [1.0, 0]
            var inputs = [0.6, 0.8, 1]
            let sum = FactoredGradientSum(mechanism: mechanism, coordinates: 6)
            errors.withUnsafeMutableBufferPointer { e in
                inputs.withUnsafeMutableBufferPointer { x in
                    let layer = GradientLayer(
                        errors: e.baseAddress!, rows: 2, inputs: x.baseAddress!, width: 3, offset: 0)
                    let squares = sum.quantise(layer, 0, layer.squares(of: 0), factor: factor)
                    #expect(squares.map { $0 <= sum.bound } == admitted, "factor \(factor)")
                }
            }
        }
        // A record added as it is clipped (norm C exactly) is admitted, and its integers are within Δ.
        let model = try Model(kind: .logistic, featureCount: 2, classCount: 2)
        let sum = FactoredGradientSum(mechanism: mechanism, coordinates: 3)
        #expect(Self.add([([60, 80], 0)], model, sum) == 1)
        let squares = sum.units().reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(squares > 0 && squares <= pow(Double(mechanism.releaseSensitivity), 2))
    }

    @Test("records that are not finite are refused; a zero gradient adds nothing")
    func refusals() throws {
        let model = try Self.model(.softmax, classes: 3, seed: 2)
        let mechanism = try DiscreteGaussianMechanism(clip: 1, noiseMultiplier: 1, roundedCoordinates: 21)
        let sum = FactoredGradientSum(mechanism: mechanism, coordinates: 21)
        let bad = [Double.nan, .infinity, -.infinity].map { ([1, $0, 0, 0, 0, 0], 0) }
        #expect(Self.add(bad, model, sum) == 0)
        #expect(sum.units().allSatisfy { $0 == 0 })
    }

    @Test("the plan's step mechanism pays for the rounding; a noise multiplier too large for the model is refused")
    func planRefusesTooMuchRounding() throws {
        let plan = try DPSGDPlan(
            exampleCount: 1_000, batchSize: 100, epochs: 1, learningRate: 0.1, clip: 1, noiseMultiplier: 1.6,
            delta: 1e-5)
        let mechanism = try plan.stepMechanism(coordinates: 50_890)
        #expect(mechanism.roundingSlack == 226 && mechanism.continuousNoiseMultiplier >= 1.6)
        // The finest grid the sampler allows: 2²³ steps in C at z = 1.6, so the slack is 3·10⁻⁵ of the noise.
        #expect(mechanism.gridExponent == 23)
        let loud = try DPSGDPlan(
            exampleCount: 1_000, batchSize: 100, epochs: 1, learningRate: 0.1, clip: 1, noiseMultiplier: 2_000,
            delta: 1e-5)
        let error = #expect(throws: LearningError.self) { try loud.stepMechanism(coordinates: 50_890) }
        #expect(error?.reason.contains("50890 coordinates") == true, "\(error?.reason ?? "")")
        #expect(error?.reason.contains("1/64 of the noise") == true, "\(error?.reason ?? "")")
        #expect(try loud.stepMechanism(coordinates: 650).roundingSlack == 26)
        // The setup a training run starts from refuses it before anything trains.
        let csv = "a,b,label\n" + (0..<40).map { "\($0 % 7),\($0 % 3),\($0 % 2)" }.joined(separator: "\n")
        let spec = TrainingSpec(
            label: "label", model: .mlp, hiddenUnits: 40_000, noiseMultiplier: 2_000, delta: 1e-3, epochs: 1,
            batchSize: 8, learningRate: 0.1, clip: 1)
        let refusal = #expect(throws: LearningError.self) {
            try TrainingSetup(csv: Array(csv.utf8), source: "t.csv", schema: nil, schemaSource: "", spec: spec)
        }
        #expect(refusal?.reason.contains("1/64 of the noise") == true, "\(refusal?.reason ?? "")")
    }

    @Test(
        "the vectorised rounding of a block's fine sums is the mechanism's coarseUnits, at ties, at ±2⁵³ and at random")
    func coarseUnitsKernel() throws {
        var generator = try KeyedRandomStream(key: [UInt8](repeating: 9, count: 32), stream: 4)
        for fineBits in [0, 1, 13, 21, 44] {
            let half: Int64 = fineBits > 0 ? 1 << (fineBits - 1) : 0
            var sums: [Int64] = [0, 1 << 53, -(1 << 53), (1 << 53) - 1, half, -half, 3 * half, -3 * half, half - 1]
            sums += (0..<2_000).map { _ in Int64.random(in: -(1 << 53)...(1 << 53), using: &generator) }
            sums += (0..<200).map { _ in (Int64.random(in: -1_000...1_000, using: &generator) << fineBits) + half }
            let fine = sums.map(Double.init)
            var units = [Int64](repeating: 7, count: sums.count)
            cloister_coarse_units(fine, fine.count, UInt32(fineBits), &units)
            let expected = sums.map { DiscreteGaussianMechanism.coarseUnits(fineSum: $0, fineBits: fineBits) }
            #expect(units == expected, "fine bits \(fineBits)")
        }
    }
}
