internal import CMatrixKernels
import FoundationEssentials
import Glibc
public import Privacy

/// Differentially private SGD (Abadi et al. 2016) as Opacus runs it, with exact noise: each step samples every example
/// independently with probability q = B/n (`PoissonSampling`), clips each sampled example's gradient to L2 norm C,
/// sums the clipped gradients exactly in integers (`FactoredGradientSum`), releases the sum with discrete Gaussian
/// noise of noise multiplier σ on a grid far finer than the noise (`DiscreteGaussianMechanism`, which the continuous
/// accountants bound), divides by the expected batch size B, and takes an SGD step with momentum. When the plan centres the features, the first step releases their private centre
/// (`PrivateCentre`) and every step trains on features minus that centre. The model, the velocity, the centre and the
/// steps taken are the whole training state (what a checkpoint holds).
public struct DPSGD: Sendable, Codable, Equatable {
    public let plan: DPSGDPlan
    /// The model as the steps move it: over centred features when the plan centres them.
    public private(set) var trainingModel: Model
    public private(set) var velocity: [Double]
    /// The released centre of the features; nil before the first step, or always when the plan centres nothing.
    public private(set) var centre: [Double]?
    public private(set) var stepsTaken = 0

    public init(plan: DPSGDPlan, model: Model) {
        self.plan = plan
        self.trainingModel = model
        self.velocity = Array(repeating: 0, count: model.parameters.count)
    }

    public var isFinished: Bool { stepsTaken >= plan.steps }

    /// The trained model over the features as given (the centre folded into its biases): what is published and
    /// scored.
    public var model: Model {
        centre.map { trainingModel.folding(centre: $0) } ?? trainingModel
    }

    /// One step over `data` (the plan's training set); sampling and noise draw from `random`. Returns the number of
    /// examples sampled.
    @discardableResult
    public mutating func step<Rows: ExampleRows, Source: RandomNumberGenerator>(
        on data: Rows, random: inout Source
    ) throws(Rows.Failure) -> Int {
        var none: GradientCanaries?
        return try step(on: data, random: &random, canaries: &none)
    }

    /// One step over `data` with the audit's `canaries` (`GradientCanaries`) as further records of the training set:
    /// each included canary is sampled like every example, its gradient (norm C, on a coordinate of its own after
    /// the model's) clipped like theirs, and the step's noise drawn for every coordinate of the sum by the same loop,
    /// the canaries' released coordinates recorded as their scores. The model's step is the one `step(on:random:)`
    /// takes; the canaries change no plan and no accounting.
    @discardableResult
    public mutating func step<Rows: ExampleRows, Source: RandomNumberGenerator>(
        on data: Rows, random: inout Source, canaries: inout GradientCanaries?
    ) throws(Rows.Failure) -> Int {
        try step(
            on: data, random: &random, canaries: &canaries, helper: nil,
            noise: { mechanism, count, random in StepNoise(mechanism: mechanism, count: count, using: &random) },
            sample: { records, m, n, random in PoissonSampling.sample(records, rate: m, outOf: n, using: &random) })
    }

    /// One step on two cores, when the machine has them: its noise, when the release is large, drawn from
    /// `noiseStreams` by the process's step thread while the step reads its examples (`StepNoise`), and its batches'
    /// gradients shared with that thread (`StepGradients`); otherwise the step `step(on:random:canaries:)` takes. Its
    /// own generator `random` is of the streams' type, whose Poisson sample `noiseStreams` draws, specialised.
    @discardableResult
    public mutating func step<Rows: ExampleRows, Streams: RandomStreams>(
        on data: Rows, random: inout Streams.Stream, noiseStreams: Streams, canaries: inout GradientCanaries?
    ) throws(Rows.Failure) -> Int {
        var none: StepNoise?
        return try step(
            on: data, random: &random, noiseStreams: noiseStreams, canaries: &canaries, ahead: &none,
            drawingAhead: false)
    }

    /// A step on two cores whose noise may have been drawn `ahead` (by the step before it, in `train`); when
    /// `drawingAhead`, a step follows, the machine has a step thread and the release is drawn in chunks
    /// (`StepNoise.drawsInChunks`), it starts drawing the next step's there once its gradients are summed, so that the
    /// step thread draws it while this step releases its sum, where it would wait. (The next step's noise is a chunk
    /// from each of the further streams `noiseStreams` hands out, which must never hand out one twice.) Internal for
    /// the tests, which give a step noise drawn ahead.
    mutating func step<Rows: ExampleRows, Streams: RandomStreams>(
        on data: Rows, random: inout Streams.Stream, noiseStreams: Streams, canaries: inout GradientCanaries?,
        ahead: inout StepNoise?, drawingAhead: Bool
    ) throws(Rows.Failure) -> Int {
        try step(
            on: data, random: &random, canaries: &canaries, helper: StepThread.shared,
            noise: { mechanism, count, random in
                if let drawn = ahead.take() {
                    precondition(drawn.count == count, "noise drawn ahead is for a release of the same coordinates")
                    return drawn
                }
                return StepNoise(mechanism: mechanism, count: count, streams: noiseStreams, orFrom: &random)
            },
            sample: { records, m, n, random in noiseStreams.sample(records, rate: m, outOf: n, using: &random) },
            next: { mechanism, count in
                guard drawingAhead, StepThread.shared != nil, StepNoise.drawsInChunks(count) else { return }
                ahead = StepNoise(mechanism: mechanism, count: count, streams: noiseStreams)
            })
    }

    private mutating func step<Rows: ExampleRows, Source: RandomNumberGenerator>(
        on data: Rows, random: inout Source, canaries: inout GradientCanaries?, helper: StepThread?,
        noise: (DiscreteGaussianMechanism, Int, inout Source) -> StepNoise,
        sample: (Int, Int, Int, inout Source) -> [Int],
        next: (DiscreteGaussianMechanism, Int) -> Void = { _, _ in }
    ) throws(Rows.Failure) -> Int {
        precondition(data.count == plan.exampleCount, "DP-SGD runs on the training set its plan was made for")
        let count = trainingModel.parameters.count
        guard let mechanism = try? plan.stepMechanism(coordinates: count) else {
            preconditionFailure("DP-SGD's plan must take the model (`TrainingSetup` checks it)")
        }
        if centre == nil, let centring = plan.centringMechanism(featureCount: data.featureCount) {
            // The steps' noise table is built beside the centre's (each about 0.3 ms, once a process).
            helper?.submit { mechanism.noise.prepare() }
            centre = try PrivateCentre.estimate(data, mechanism: centring, random: &random)
        }
        let total = count + (canaries?.count ?? 0)
        // The noise first, before the data is touched, drawn while the gradients are formed (`StepNoise`).
        let drawing = noise(mechanism, total, &random)
        let gradients = StepGradients(model: trainingModel, mechanism: mechanism, helper: helper)
        let batch = sample(data.count, plan.batchSize, data.count, &random)
        let centring = centre ?? []
        try centring.withUnsafeBufferPointer { values throws(Rows.Failure) in
            let centre = centre == nil ? nil : values
            try data.forEachExample(at: batch) { row, label in gradients.append(row, label: label, centre: centre) }
        }
        let records = gradients.finish()
        if stepsTaken + 1 < plan.steps { next(mechanism, total) }
        var sum = records.units(extraCoordinates: total - count)
        if let members = canaries?.members {
            // A canary moves its own coordinate, which is not rounded, by the release's whole sensitivity: exactly the
            // worst case the accountant assumes of a record.
            let sampled = sample(members.count, plan.batchSize, data.count, &random)
            for member in sampled { sum[count + members[member]] += mechanism.releaseSensitivity }
        }
        let expectedBatch = Double(plan.batchSize)
        let (momentum, learningRate) = (plan.momentum, plan.learningRate)
        drawing.withValues { noise in
            // velocity = momentum·velocity + release/B and parameters −= rate·velocity, each release
            // `mechanism.release(sum:noise:)` (vectorised).
            let within = velocity.withUnsafeMutableBufferPointer { velocity in
                trainingModel.parameters.withUnsafeMutableBufferPointer { parameters in
                    cloister_momentum_step(
                        count, sum, noise.baseAddress!, mechanism.step, expectedBatch, momentum, learningRate,
                        velocity.baseAddress!, parameters.baseAddress!)
                }
            }
            precondition(within != 0, "a step's sums are within 2^62 and its noise within 2^46")
            for p in count..<total {
                canaries?.record(mechanism.release(sum: sum[p], noise: noise[p]) / plan.clip, at: p - count)
            }
        }
        stepsTaken += 1
        return batch.count
    }

    /// Runs the remaining steps, calling `progress(stepsTaken, plan.steps)` after each; a large release's noise is
    /// drawn from `noiseStreams` beside each step's gradients (`step(on:random:noiseStreams:canaries:)`), from the
    /// moment the step before it has summed its gradients, so `noiseStreams` must never hand out a stream twice (as
    /// `SecureRandomStreams` does not; the `dpsgd` enclave's streams are numbered by step, and it takes one step at a
    /// time). Returns the number of examples sampled.
    @discardableResult
    public mutating func train<Rows: ExampleRows, Streams: RandomStreams>(
        on data: Rows, random: inout Streams.Stream, noiseStreams: Streams, progress: (Int, Int) -> Void = { _, _ in }
    ) throws(Rows.Failure) -> Int {
        var sampled = 0
        var none: GradientCanaries?
        var ahead: StepNoise?
        while !isFinished {
            sampled += try step(
                on: data, random: &random, noiseStreams: noiseStreams, canaries: &none, ahead: &ahead,
                drawingAhead: true)
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
