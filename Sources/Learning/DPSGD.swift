import Foundation

/// Differentially private SGD (Abadi et al. 2016) as Opacus runs it: each step samples every example independently
/// with probability q (Poisson sampling), clips each sampled example's gradient to L2 norm C, adds Gaussian noise of
/// standard deviation σC to every coordinate of the sum, divides by the expected batch size qn, and takes an SGD step
/// with momentum. The model, the velocity and the steps taken are the whole training state (what a checkpoint holds).
public struct DPSGD: Sendable, Codable, Equatable {
    public let plan: DPSGDPlan
    public private(set) var model: Model
    public private(set) var velocity: [Double]
    public private(set) var stepsTaken = 0

    public init(plan: DPSGDPlan, model: Model) {
        self.plan = plan
        self.model = model
        self.velocity = Array(repeating: 0, count: model.parameters.count)
    }

    public var isFinished: Bool { stepsTaken >= plan.steps }

    /// One step over `data` (the plan's training set); sampling and noise draw from `random`. Returns the number of
    /// examples sampled.
    @discardableResult
    public mutating func step<Rows: ExampleRows, Source>(
        on data: Rows, random: inout GaussianSampler<Source>
    ) throws(Rows.Failure) -> Int {
        precondition(data.count == plan.exampleCount, "DP-SGD runs on the training set its plan was made for")
        let count = model.parameters.count
        let sum = UnsafeMutableBufferPointer<Double>.allocate(capacity: count)
        let scratch = UnsafeMutableBufferPointer<Double>.allocate(capacity: model.scratchCount)
        defer {
            sum.deallocate()
            scratch.deallocate()
        }
        sum.initialize(repeating: 0)
        scratch.initialize(repeating: 0)
        // Poisson sampling by geometric gaps: the gap to the next sampled example is ⌊ln U / ln(1 − q)⌋ for U
        // uniform in (0, 1], the same law as one Bernoulli(q) draw per example, with one draw per sampled example
        // instead of one per example.
        var batch: [Int] = []
        batch.reserveCapacity(2 * plan.batchSize)
        let logSkip = log1p(-plan.samplingRate)
        var index = -1
        while true {
            let gap = 1 - random.uniform()
            index += logSkip == -.infinity ? 1 : 1 + Int(min(log(gap) / logSkip, Double(data.count)))
            guard index < data.count else { break }
            batch.append(index)
        }
        try data.forEachExample(at: batch) { row, label in
            model.addGradient(row: row, label: label, clippedTo: plan.clip, into: sum, scratch: scratch)
        }
        let deviation = plan.noiseMultiplier * plan.clip
        let expectedBatch = Double(plan.batchSize)
        for p in 0..<count {
            let noisy = (sum[p] + deviation * random.next()) / expectedBatch
            velocity[p] = plan.momentum * velocity[p] + noisy
            model.parameters[p] -= plan.learningRate * velocity[p]
        }
        stepsTaken += 1
        return batch.count
    }

    /// Runs the remaining steps, calling `progress(stepsTaken, plan.steps)` after each. Returns the number of
    /// examples sampled.
    @discardableResult
    public mutating func train<Rows: ExampleRows, Source>(
        on data: Rows, random: inout GaussianSampler<Source>, progress: (Int, Int) -> Void = { _, _ in }
    ) throws(Rows.Failure) -> Int {
        var sampled = 0
        while !isFinished {
            sampled += try step(on: data, random: &random)
            progress(stepsTaken, plan.steps)
        }
        return sampled
    }
}

/// Per-example clipping: a gradient g is scaled by min(1, C / ‖g‖₂), so every contribution to a DP-SGD sum has norm
/// at most C (the sensitivity the noise is calibrated to). A gradient that is not finite contributes nothing.
public enum PerExampleClipping {
    /// The factor that clips a gradient of norm `norm` to norm `bound`.
    public static func factor(norm: Double, bound: Double) -> Double {
        guard norm.isFinite else { return 0 }
        return norm > bound ? bound / norm : 1
    }
}
