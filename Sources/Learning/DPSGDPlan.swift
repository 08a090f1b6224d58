public import Privacy

/// The hyperparameters of a DP-SGD run over `exampleCount` examples, checked: Poisson sampling at rate
/// q = batchSize / exampleCount, `epochs` × ⌊exampleCount / batchSize⌋ steps (as Opacus counts them), per-example
/// clipping to `clip`, Gaussian noise of standard deviation `noiseMultiplier` × `clip`, SGD with momentum. With a
/// `centringNoise`, the first step is preceded by one release of the features' mean at that noise multiplier
/// (`PrivateCentre`), and the privacy composes it once with the steps.
public struct DPSGDPlan: Sendable, Codable, Equatable {
    /// The centring noise `cloister dp train` uses unless told otherwise: on breast_cancer at ε = 1 it costs ≈ 2 % more
    /// DP-SGD noise and centres each feature to within ≈ 0.12.
    public static let defaultCentringNoise = 20.0

    public let exampleCount: Int
    public let batchSize: Int
    public let epochs: Int
    public let learningRate: Double
    public let momentum: Double
    public let clip: Double
    public let noiseMultiplier: Double
    public let delta: Double
    /// The noise multiplier of the private feature centre's release; nil when the features are not centred.
    public let centringNoise: Double?

    public var samplingRate: Double { Double(batchSize) / Double(exampleCount) }
    public var steps: Int { epochs * max(exampleCount / batchSize, 1) }

    public init(
        exampleCount: Int, batchSize: Int, epochs: Int, learningRate: Double, momentum: Double = 0, clip: Double,
        noiseMultiplier: Double, delta: Double, centringNoise: Double? = nil
    ) throws(LearningError) {
        guard exampleCount > 0 else { throw LearningError(.invalidParameter, "the training set is empty") }
        guard batchSize > 0, batchSize <= exampleCount else {
            throw LearningError(
                .invalidParameter, "batch size must be in 1...\(exampleCount) (the training set), got \(batchSize)")
        }
        guard epochs > 0 else { throw LearningError(.invalidParameter, "epochs must be positive, got \(epochs)") }
        let stepsPerEpoch = max(exampleCount / batchSize, 1)
        let (steps, overflow) = epochs.multipliedReportingOverflow(by: stepsPerEpoch)
        guard !overflow, steps <= RDPAccountant.Composition.maximumSteps else {
            throw LearningError(
                .invalidParameter,
                "\(epochs) epochs of \(stepsPerEpoch) steps are more than the \(RDPAccountant.Composition.maximumSteps) steps the accountants compose"
            )
        }
        guard learningRate > 0, learningRate.isFinite else {
            throw LearningError(.invalidParameter, "learning rate must be positive, got \(learningRate)")
        }
        guard momentum >= 0, momentum < 1 else {
            throw LearningError(.invalidParameter, "momentum must be in [0, 1), got \(momentum)")
        }
        guard clip > 0, clip.isFinite else {
            throw LearningError(.invalidParameter, "clipping norm must be positive, got \(clip)")
        }
        // The accountants must be able to analyse every release of the plan: checked before anything trains.
        try Self.checkMechanism("DP-SGD", samplingRate: Double(batchSize) / Double(exampleCount), noiseMultiplier)
        if let centringNoise { try Self.checkMechanism("the centring release", samplingRate: 1, centringNoise) }
        // δ must be well below the weight of one record: δ ≥ 1/n admits mechanisms that publish a record outright.
        guard delta > 0, delta < 1 / Double(exampleCount) else {
            throw LearningError(
                .invalidParameter,
                "delta must be in (0, 1/n) = (0, \(1 / Double(exampleCount))) for \(exampleCount) examples, got \(delta)"
            )
        }
        self.exampleCount = exampleCount
        self.batchSize = batchSize
        self.epochs = epochs
        self.learningRate = learningRate
        self.momentum = momentum
        self.clip = clip
        self.noiseMultiplier = noiseMultiplier
        self.delta = delta
        self.centringNoise = centringNoise
    }

    /// Refuses a release the accountants cannot analyse, naming it.
    private static func checkMechanism(_ what: String, samplingRate: Double, _ noiseMultiplier: Double)
        throws(LearningError)
    {
        do {
            _ = try SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier)
        } catch {
            throw LearningError(.invalidParameter, "\(what): \(error.reason)")
        }
    }

    /// The mechanism each step runs.
    public var mechanism: SubsampledGaussian {
        get throws(PrivacyError) {
            try SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier)
        }
    }

    /// The centring release: the Gaussian mechanism on the whole training set, once.
    public var centringRelease: SubsampledGaussian? {
        get throws(PrivacyError) {
            try centringNoise.map { sigma throws(PrivacyError) in
                try SubsampledGaussian(samplingRate: 1, noiseMultiplier: sigma)
            }
        }
    }

    /// What the first `steps` steps release, in order: the centre (with the first step), then the steps.
    func compositions(afterSteps steps: Int) throws(PrivacyError) -> [RDPAccountant.Composition] {
        let centring = try centringRelease.map { [RDPAccountant.Composition(mechanism: $0, steps: 1)] } ?? []
        return (steps > 0 ? centring : []) + [RDPAccountant.Composition(mechanism: try mechanism, steps: steps)]
    }

    /// The privacy spent by the first `steps` steps (all of them by default), by both accountants.
    public func privacy(afterSteps steps: Int? = nil) throws(PrivacyError) -> PrivacyReport {
        let steps = steps ?? self.steps
        return try PrivacyReport(
            mechanism, steps: steps, delta: delta, after: steps > 0 ? try centringRelease : nil)
    }

    /// Refuses the plan when its tight ε exceeds `budget`: nothing is trained past the budget.
    public func checkBudget(_ budget: Double) throws(PrivacyError) {
        let spent = try Accountant.pld.epsilon(compositions(afterSteps: steps), delta: delta, coarse: true).epsilon
        guard spent <= budget else {
            throw PrivacyError(
                .budgetExceeded,
                "\(steps) steps at noise multiplier \(noiseMultiplier) and sampling rate \(samplingRate) spend epsilon \(spent), past the budget of \(budget) at delta \(delta)"
            )
        }
    }

    /// This plan with the smallest noise multiplier whose tight ε is at most `epsilon` (an upper bound on the
    /// PLD grid of the calibration, so the plan never spends more).
    public func calibrated(toEpsilon epsilon: Double) throws(PrivacyError) -> DPSGDPlan {
        let sigma = try NoiseCalibration.noiseMultiplier(
            epsilon: epsilon, delta: delta, samplingRate: samplingRate, steps: steps, accountant: .pld,
            after: compositions(afterSteps: steps).dropLast())
        do {
            return try DPSGDPlan(
                exampleCount: exampleCount, batchSize: batchSize, epochs: epochs, learningRate: learningRate,
                momentum: momentum, clip: clip, noiseMultiplier: sigma, delta: delta, centringNoise: centringNoise)
        } catch {
            throw PrivacyError(.unreachableTarget, error.reason)
        }
    }
}

/// The privacy a training run spent: ε by Rényi DP (with its order) and by the tight PLD accountant.
public struct PrivacyReport: Sendable, Codable, Equatable {
    public let epsilonRDP: Double
    public let rdpOrder: Double
    public let epsilonPLD: Double
    public let delta: Double
    public let noiseMultiplier: Double
    public let samplingRate: Double
    public let steps: Int
    /// The noise multiplier of a release on the whole data composed once before the steps (DP-SGD's private feature
    /// centre); nil when there was none.
    public let preprocessingNoiseMultiplier: Double?

    /// The privacy of `steps` compositions of `mechanism` at `delta`, after the one-off `release` if there is one,
    /// by both accountants.
    public init(
        _ mechanism: SubsampledGaussian, steps: Int, delta: Double, after release: SubsampledGaussian? = nil
    ) throws(PrivacyError) {
        let compositions =
            (release.map { [RDPAccountant.Composition(mechanism: $0, steps: 1)] } ?? [])
            + [RDPAccountant.Composition(mechanism: mechanism, steps: steps)]
        let (rdp, order) = try Accountant.rdp.epsilon(compositions, delta: delta)
        epsilonRDP = rdp
        rdpOrder = order ?? 0
        epsilonPLD = try Accountant.pld.epsilon(compositions, delta: delta).epsilon
        preprocessingNoiseMultiplier = release?.noiseMultiplier
        self.delta = delta
        noiseMultiplier = mechanism.noiseMultiplier
        samplingRate = mechanism.samplingRate
        self.steps = steps
    }
}
