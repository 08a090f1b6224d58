public import Privacy

/// The hyperparameters of a DP-SGD run over `exampleCount` examples, checked: Poisson sampling at rate
/// q = batchSize / exampleCount, `epochs` × ⌊exampleCount / batchSize⌋ steps (as Opacus counts them), per-example
/// clipping to `clip`, discrete Gaussian noise of noise multiplier `noiseMultiplier` (`stepMechanism`), SGD with
/// momentum. With a
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
    /// The mechanism of the plan's clip and noise multiplier without rounding (checked when the plan is made); a step
    /// releases its sum by `stepMechanism(coordinates:)`.
    public let stepMechanism: DiscreteGaussianMechanism

    private enum CodingKeys: String, CodingKey {
        case exampleCount, batchSize, epochs, learningRate, momentum, clip, noiseMultiplier, delta, centringNoise
    }

    public var samplingRate: Double { PoissonSampling.rate(batchSize, outOf: exampleCount) }
    public var steps: Int { epochs * max(exampleCount / batchSize, 1) }

    public init(
        exampleCount: Int, batchSize: Int, epochs: Int, learningRate: Double, momentum: Double = 0, clip: Double,
        noiseMultiplier: Double, delta: Double, centringNoise: Double? = nil
    ) throws(LearningError) {
        guard exampleCount > 0 else { throw LearningError(.invalidParameter, "the training set is empty") }
        guard exampleCount <= DiscreteGaussianMechanism.maximumRecords else {
            throw LearningError(
                .invalidParameter,
                "the training set has \(exampleCount) examples, more than the \(DiscreteGaussianMechanism.maximumRecords) a step's exact sum takes"
            )
        }
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
        try Self.checkMechanism(
            "DP-SGD", samplingRate: PoissonSampling.rate(batchSize, outOf: exampleCount), noiseMultiplier)
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
        do {
            stepMechanism = try DiscreteGaussianMechanism(clip: clip, noiseMultiplier: noiseMultiplier)
        } catch {
            throw LearningError(.invalidParameter, "DP-SGD: \(error.reason)")
        }
    }

    /// Decodes the hyperparameters and checks them as `init(exampleCount:…)` does.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            exampleCount: container.decode(Int.self, forKey: .exampleCount),
            batchSize: container.decode(Int.self, forKey: .batchSize),
            epochs: container.decode(Int.self, forKey: .epochs),
            learningRate: container.decode(Double.self, forKey: .learningRate),
            momentum: container.decode(Double.self, forKey: .momentum),
            clip: container.decode(Double.self, forKey: .clip),
            noiseMultiplier: container.decode(Double.self, forKey: .noiseMultiplier),
            delta: container.decode(Double.self, forKey: .delta),
            centringNoise: container.decodeIfPresent(Double.self, forKey: .centringNoise))
    }

    /// What a step over a model of `coordinates` parameters releases its sum by: `stepMechanism`'s clip and noise
    /// multiplier, made for the sum's rounding from the finer grid DP-SGD sums records on (`FactoredGradientSum`).
    /// Refuses a noise multiplier so large for the model that the rounding would add more than 1/64 of the noise
    /// (z·⌈√d⌉ above 1.3·10⁵ to 2.6·10⁵, by d, where the noise is thousands of times the clip).
    public func stepMechanism(coordinates: Int) throws(LearningError) -> DiscreteGaussianMechanism {
        do {
            return try DiscreteGaussianMechanism(
                clip: clip, noiseMultiplier: noiseMultiplier, roundedCoordinates: coordinates)
        } catch {
            throw LearningError(.invalidParameter, "DP-SGD's steps: \(error.reason)")
        }
    }

    /// What the private centre of rows of `featureCount` features is released by; nil when the plan centres nothing.
    /// The plan checked its noise multiplier, and every feature count gives a valid clip.
    public func centringMechanism(featureCount: Int) -> DiscreteGaussianMechanism? {
        centringNoise.map { sigma in
            do throws(PrivacyError) {
                return try DiscreteGaussianMechanism(
                    clip: PrivateCentre.clip(featureCount: featureCount), noiseMultiplier: sigma)
            } catch {
                preconditionFailure("the plan checked its centring noise: \(error.reason)")
            }
        }
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

    /// The privacy spent by the first `steps` steps (all of them by default), by each of `accountants`.
    public func privacy(
        afterSteps steps: Int? = nil, by accountants: [Accountant] = PrivacyReport.defaultAccountants
    ) throws(PrivacyError) -> PrivacyReport {
        let steps = steps ?? self.steps
        return try PrivacyReport(
            mechanism, steps: steps, delta: delta, after: steps > 0 ? try centringRelease : nil, by: accountants)
    }

    /// Refuses the plan when its ε by `accountant` (on its coarse setting, still an upper bound) exceeds `budget`:
    /// nothing is trained past the budget.
    public func checkBudget(_ budget: Double, by accountant: Accountant = .tight) throws(PrivacyError) {
        let spent = try accountant.epsilon(compositions(afterSteps: steps), delta: delta, coarse: true).epsilon
        guard spent <= budget else {
            throw PrivacyError(
                .budgetExceeded,
                "\(steps) steps at noise multiplier \(noiseMultiplier) and sampling rate \(samplingRate) spend epsilon \(spent) (\(accountant.rawValue)), past the budget of \(budget) at delta \(delta)"
            )
        }
    }

    /// This plan with the smallest noise multiplier whose ε by `accountant` is at most `epsilon` (an upper bound on
    /// the accountant's coarse setting, so the plan never spends more).
    public func calibrated(toEpsilon epsilon: Double, by accountant: Accountant = .tight) throws(PrivacyError)
        -> DPSGDPlan
    {
        let sigma = try NoiseCalibration.noiseMultiplier(
            epsilon: epsilon, delta: delta, samplingRate: samplingRate, steps: steps, accountant: accountant,
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

/// The privacy a training run or a federation spent: ε at δ by each accountant it was made by (RDP, with the order
/// attaining it, and the tight PLD unless others are asked for), for `steps` steps of the subsampled Gaussian after
/// an optional one-off release. Encoded (signed results, signed models, `--model-out`) as an object with `delta`,
/// `noiseMultiplier`, `samplingRate`, `steps`, `preprocessingNoiseMultiplier` (absent when none) and one key per
/// accountant: `epsilonRDP` with `rdpOrder`, `epsilonPLD`, `epsilonPRV`.
public struct PrivacyReport: Sendable, Equatable {
    /// The accountants a report is made by unless others are named: RDP (as Opacus reports by default) and PLD.
    public static let defaultAccountants: [Accountant] = [.rdp, .pld]

    /// ε by each accountant the report was made by, one each, in `Accountant.allCases` order.
    public let epsilons: [AccountedEpsilon]
    public let delta: Double
    public let noiseMultiplier: Double
    public let samplingRate: Double
    public let steps: Int
    /// The noise multiplier of a release on the whole data composed once before the steps (DP-SGD's private feature
    /// centre); nil when there was none.
    public let preprocessingNoiseMultiplier: Double?

    /// The privacy of `steps` compositions of `mechanism` at `delta`, after the one-off `release` if there is one,
    /// by each of `accountants` (at least one; each counted once).
    public init(
        _ mechanism: SubsampledGaussian, steps: Int, delta: Double, after release: SubsampledGaussian? = nil,
        by accountants: [Accountant] = PrivacyReport.defaultAccountants
    ) throws(PrivacyError) {
        let compositions =
            (release.map { [RDPAccountant.Composition(mechanism: $0, steps: 1)] } ?? [])
            + [RDPAccountant.Composition(mechanism: mechanism, steps: steps)]
        let chosen = Accountant.allCases.filter(accountants.contains)
        guard !chosen.isEmpty else {
            throw PrivacyError(.invalidParameter, "a privacy report needs at least one accountant")
        }
        epsilons = try chosen.map { accountant throws(PrivacyError) in
            try accountant.epsilon(compositions, delta: delta)
        }
        preprocessingNoiseMultiplier = release?.noiseMultiplier
        self.delta = delta
        noiseMultiplier = mechanism.noiseMultiplier
        samplingRate = mechanism.samplingRate
        self.steps = steps
    }

    /// The ε `accountant` gave; nil when the report was not made by it.
    public func epsilon(by accountant: Accountant) -> Double? {
        epsilons.first { $0.accountant == accountant }?.epsilon
    }

    /// Its ε, tightest first: each is an upper bound, so the first is the least the report proves.
    public var tightestFirst: [AccountedEpsilon] {
        epsilons.sorted { $0.epsilon < $1.epsilon }
    }
}

extension PrivacyReport: Codable {
    private enum CodingKeys: String, CodingKey {
        case delta, noiseMultiplier, samplingRate, steps, preprocessingNoiseMultiplier, rdpOrder
        case epsilonRDP, epsilonPLD, epsilonPRV

        /// The key of the ε `accountant` gave.
        init(epsilonOf accountant: Accountant) {
            switch accountant {
            case .rdp: self = .epsilonRDP
            case .pld: self = .epsilonPLD
            case .prv: self = .epsilonPRV
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        for accounted in epsilons {
            try container.encode(accounted.epsilon, forKey: CodingKeys(epsilonOf: accounted.accountant))
            if accounted.accountant == .rdp { try container.encodeIfPresent(accounted.order, forKey: .rdpOrder) }
        }
        try container.encode(delta, forKey: .delta)
        try container.encode(noiseMultiplier, forKey: .noiseMultiplier)
        try container.encode(samplingRate, forKey: .samplingRate)
        try container.encode(steps, forKey: .steps)
        try container.encodeIfPresent(preprocessingNoiseMultiplier, forKey: .preprocessingNoiseMultiplier)
    }

    /// Decodes a report by any accountants, refusing one that gives no ε (or an RDP ε without its order).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        epsilons = try Accountant.allCases.compactMap { accountant in
            try container.decodeIfPresent(Double.self, forKey: CodingKeys(epsilonOf: accountant)).map { epsilon in
                AccountedEpsilon(
                    accountant: accountant, epsilon: epsilon,
                    order: accountant == .rdp ? try container.decode(Double.self, forKey: .rdpOrder) : nil)
            }
        }
        guard !epsilons.isEmpty else {
            throw DecodingError.dataCorruptedError(
                forKey: .epsilonPLD, in: container,
                debugDescription: "a privacy report gives no epsilon (epsilonRDP, epsilonPLD or epsilonPRV)")
        }
        delta = try container.decode(Double.self, forKey: .delta)
        noiseMultiplier = try container.decode(Double.self, forKey: .noiseMultiplier)
        samplingRate = try container.decode(Double.self, forKey: .samplingRate)
        steps = try container.decode(Int.self, forKey: .steps)
        preprocessingNoiseMultiplier = try container.decodeIfPresent(Double.self, forKey: .preprocessingNoiseMultiplier)
    }
}
