import Glibc
public import Learning
public import Privacy

/// DP-FedAvg (McMahan et al. 2018; Flower's server-side fixed clipping): each client's update Δᵢ = θᵢ − θ is clipped
/// to L2 norm C, the clipped updates are summed exactly on a grid and released by the discrete Gaussian mechanism of
/// noise multiplier z (`DiscreteGaussianMechanism`: noise of standard deviation z·C, which the continuous accountants
/// bound), and the sum divided by the expected cohort (m, or m·E/N once a budget leaves E clients eligible). A client's
/// clipped update replaced by none changes the sum by at most C, so a round is the Gaussian mechanism with noise
/// multiplier z for each client of its cohort, which the enclave samples at rate q = m/N from the N registered
/// clients. The neighbours are therefore one client's update against none from it, its participation being public
/// (zero-out, as Kairouz et al. 2021 account federations); one client's update swapped for another moves the sum by up
/// to 2C, which is the mechanism at z/2.
///
/// **No amplification by sampling.** Subsampling amplifies privacy only while the sample stays secret, and a
/// federation's does not: every signed model names its round's cohort and participants (so that clients learn when
/// they are sampled), and the host sees which clients submit. Given the cohorts, a round in which a client was not
/// sampled says nothing about it, and a round in which it was is the Gaussian mechanism, unamplified. A client sampled
/// into K rounds has therefore spent K compositions of the Gaussian mechanism of multiplier z (q = 1), and the report
/// a model carries is that of the most-sampled client so far (`report(participations:)`). The cohorts are drawn by
/// the enclave alone, independently of every client's data, so conditioning on them is sound. With a budget, a client
/// that has been in `participationLimit` rounds is sampled no more.
///
/// With `adaptiveClipping`, C follows a quantile of the update norms instead (`AdaptiveClipping`), and the noise
/// multiplier z is split between the update and the count of unclipped updates so that a round is still the
/// Gaussian mechanism with multiplier z: the accounting is the same, exactly.
public struct ClientLevelPrivacy: Sendable, Hashable, Codable {
    /// z, the noise multiplier of a whole round (the accountant's).
    public let noiseMultiplier: Double
    /// The clipping norm C; with adaptive clipping, round 1's.
    public let clip: Double
    public let delta: Double
    /// The most ε (by the tight accountant, `Accountant.tight`) the published models may spend on any one client; nil
    /// for no limit.
    public let epsilonBudget: Double?
    public let clientsPerRound: Int
    public let registeredClients: Int
    /// How C adapts from round to round; nil for a fixed C.
    public let adaptiveClipping: AdaptiveClipping?

    public init(
        noiseMultiplier: Double, clip: Double, delta: Double, epsilonBudget: Double? = nil, clientsPerRound: Int,
        registeredClients: Int, adaptiveClipping: AdaptiveClipping? = nil
    ) throws(FederationError) {
        do {
            _ = try SubsampledGaussian(samplingRate: 1, noiseMultiplier: noiseMultiplier)
        } catch {
            throw FederationError(.invalidParameter, error.reason)
        }
        guard clip > 0, clip.isFinite else {
            throw FederationError(.invalidParameter, "clipping norm must be positive, got \(clip)")
        }
        guard registeredClients > 0, clientsPerRound > 0, clientsPerRound <= registeredClients else {
            throw FederationError(
                .invalidParameter,
                "clients per round must be in 1...\(registeredClients) (the registered clients), got \(clientsPerRound)"
            )
        }
        // δ at most 1/N, the convention of the federated reference cases (TFF, Flower): larger admits releasing a
        // whole client's update outright.
        guard delta > 0, delta <= 1 / Double(registeredClients) else {
            throw FederationError(
                .invalidParameter,
                "delta must be in (0, 1/N] = (0, \(1 / Double(registeredClients))] for \(registeredClients) clients, got \(delta)"
            )
        }
        if let epsilonBudget, !(epsilonBudget > 0 && epsilonBudget.isFinite) {
            throw FederationError(.invalidParameter, "the epsilon budget must be positive, got \(epsilonBudget)")
        }
        if let adaptiveClipping {
            try adaptiveClipping.validate()
            // z_Δ exists when z⁻² > (2σ_b)⁻², that is σ_b > z/2.
            guard 2 * adaptiveClipping.countNoise > noiseMultiplier else {
                throw FederationError(
                    .invalidParameter,
                    "the count noise of adaptive clipping must exceed z/2 = \(noiseMultiplier / 2) to leave the update any of the noise multiplier \(noiseMultiplier), got \(adaptiveClipping.countNoise)"
                )
            }
        }
        self.noiseMultiplier = noiseMultiplier
        self.clip = clip
        self.delta = delta
        self.epsilonBudget = epsilonBudget
        self.clientsPerRound = clientsPerRound
        self.registeredClients = registeredClients
        self.adaptiveClipping = adaptiveClipping
        do {
            _ = try DiscreteGaussianMechanism(clip: clip, noiseMultiplier: updateNoiseMultiplier)
        } catch {
            throw FederationError(.invalidParameter, "the update's release: \(error.reason)")
        }
    }

    /// q = m/N, the rate at which each client is sampled into a round's cohort.
    public var samplingRate: Double { PoissonSampling.rate(clientsPerRound, outOf: registeredClients) }

    /// z_Δ, the noise multiplier of the update sum: z with a fixed clip; with adaptive clipping
    /// (z⁻² − (2σ_b)⁻²)^(−1/2), so that the update (sensitivity C, noise z_Δ·C) and the centred count (sensitivity 1/2,
    /// noise σ_b) together are one Gaussian mechanism of multiplier z (Andrew et al. 2021, section 3.1): scaled by their
    /// noise, one client moves the pair by at most √(z_Δ⁻² + (2σ_b)⁻²) = 1/z.
    public var updateNoiseMultiplier: Double {
        guard let adaptiveClipping else { return noiseMultiplier }
        let countTerm = 2 * adaptiveClipping.countNoise
        return 1 / (1 / (noiseMultiplier * noiseMultiplier) - 1 / (countTerm * countTerm)).squareRoot()
    }

    /// z_Δ·C/m, the noise added to each coordinate of the averaged update at round 1's clip.
    public var noiseStandardDeviation: Double { updateNoiseMultiplier * clip / Double(clientsPerRound) }

    /// How an update is clipped around `global`: the L2 norm of its difference (in double precision, coordinate by
    /// coordinate) and min(1, C/norm), the factor the difference is scaled by. A vector that is not finite is refused
    /// before it gets here.
    public static func clipping(_ update: [Float], around global: [Float], to bound: Double) -> (
        norm: Double, factor: Double
    ) {
        var squares = 0.0
        update.withUnsafeBufferPointer { values in
            global.withUnsafeBufferPointer { origin in
                for index in 0..<values.count {
                    let difference = Double(values[index]) - Double(origin[index])
                    squares += difference * difference
                }
            }
        }
        let norm = squares.squareRoot()
        return (norm, PerExampleClipping.factor(norm: norm, bound: bound))
    }

    /// The client-level privacy of a client sampled into `participations` published rounds, by each of
    /// `accountants`: the Gaussian mechanism of multiplier z composed that many times (no amplification: the cohorts
    /// are public).
    public func report(
        participations: Int, by accountants: [Accountant] = PrivacyReport.defaultAccountants
    ) throws(FederationError) -> PrivacyReport {
        do {
            return try PrivacyReport(round, steps: participations, delta: delta, by: accountants)
        } catch {
            throw FederationError(.invalidParameter, error.reason)
        }
    }

    /// Refuses to let a client join `participations` rounds when they would spend more than the budget by
    /// `accountant`.
    public func checkBudget(participations: Int, by accountant: Accountant = .tight) throws(FederationError) {
        guard let epsilonBudget else { return }
        let spent = try spending(participations, by: accountant)
        guard spent <= epsilonBudget else {
            throw FederationError(
                .budgetExhausted,
                "a client sampled into \(participations) round(s) at noise multiplier \(noiseMultiplier) spends epsilon \(spent) (\(accountant.rawValue); the cohorts are published, so sampling does not amplify), past the budget of \(epsilonBudget) at delta \(delta)"
            )
        }
    }

    /// The most rounds one client may be sampled into within the budget (nil without one; 0 when even one round is
    /// past it): the largest K whose ε by `accountant` is at most the budget, found by doubling and bisection (ε grows
    /// with K).
    public func participationLimit(by accountant: Accountant = .tight) throws(FederationError) -> Int? {
        guard let epsilonBudget else { return nil }
        guard try spending(1, by: accountant) <= epsilonBudget else { return 0 }
        // Past one round, a count the accountant cannot compute (a composition too long for its grid) counts as past
        // the budget: the limit is then lower than it might be, never higher.
        func within(_ k: Int) -> Bool { ((try? spending(k, by: accountant)) ?? .infinity) <= epsilonBudget }
        let most = RDPAccountant.Composition.maximumSteps
        // within(low) holds; within(high) fails, or high is the most steps the accountants take and holds.
        var (low, high) = (1, 2)
        while high < most, within(high) { (low, high) = (high, min(2 * high, most)) }
        if high == most, within(high) { return high }
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if within(middle) { low = middle } else { high = middle }
        }
        return low
    }

    /// One round of one sampled client: the Gaussian mechanism of multiplier z.
    private var round: SubsampledGaussian {
        get throws(PrivacyError) { try SubsampledGaussian(samplingRate: 1, noiseMultiplier: noiseMultiplier) }
    }

    /// The ε of `participations` rounds by `accountant`, coarse (pessimistic: what it admits spends at most the budget
    /// by the exact report too).
    private func spending(_ participations: Int, by accountant: Accountant) throws(FederationError) -> Double {
        do {
            return try accountant.epsilon(round, steps: participations, delta: delta, coarse: true).epsilon
        } catch {
            throw FederationError(.invalidParameter, error.reason)
        }
    }
}

extension ClientLevelPrivacy {
    /// Decodes the parameters and checks them as `init(noiseMultiplier:…)` does (they come from the untrusted host).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            noiseMultiplier: container.decode(Double.self, forKey: .noiseMultiplier),
            clip: container.decode(Double.self, forKey: .clip), delta: container.decode(Double.self, forKey: .delta),
            epsilonBudget: container.decodeIfPresent(Double.self, forKey: .epsilonBudget),
            clientsPerRound: container.decode(Int.self, forKey: .clientsPerRound),
            registeredClients: container.decode(Int.self, forKey: .registeredClients),
            adaptiveClipping: container.decodeIfPresent(AdaptiveClipping.self, forKey: .adaptiveClipping))
    }
}

/// Adaptive clipping for DP-FedAvg (Andrew, Thakkar, McMahan and Ramaswamy 2021, "Differentially Private Learning
/// with Adaptive Clipping"; TF Privacy's quantile estimator): each round the enclave counts the participating updates
/// whose norm is at most the round's clip C, releases the count privately as b̃ = (Σᵢ(bᵢ − ½) + noise of standard
/// deviation σ_b)/m + ½ (bits centred so that one client moves the sum by at most ½), and moves C geometrically towards
/// the γ-quantile of the norms: C ← C·exp(−η_C(b̃ − γ)). The count is released exactly as Σᵢ(2bᵢ − 1) (one client
/// moves it by 1) by the discrete Gaussian mechanism of noise multiplier 2σ_b (`countMechanism`), then halved. The updates of a round are clipped and noised with the C in force when it
/// opened; the next round uses the new one.
///
/// Flower's `DifferentialPrivacyServerSideAdaptiveClipping` splits z the same way and defaults σ_b to m/20 as here,
/// but counts clipped updates without centring and noises a round with the clip it has just updated; this follows
/// the paper, whose accounting holds.
public struct AdaptiveClipping: Sendable, Hashable, Codable {
    /// γ, the fraction of updates meant to be at most C.
    public let targetQuantile: Double
    /// η_C, the clip's geometric learning rate.
    public let learningRate: Double
    /// σ_b, the standard deviation of the noise on the count of unclipped updates.
    public let countNoise: Double

    /// Adaptive clipping with the paper's (and Flower's) defaults γ = 0.5 and η_C = 0.2; σ_b is usually
    /// `defaultCountNoise(clientsPerRound:)`.
    public init(targetQuantile: Double = 0.5, learningRate: Double = 0.2, countNoise: Double) throws(FederationError) {
        self.targetQuantile = targetQuantile
        self.learningRate = learningRate
        self.countNoise = countNoise
        try validate()
    }

    /// m/20, the count noise the paper recommends for an expected cohort of m.
    public static func defaultCountNoise(clientsPerRound: Int) -> Double { Double(clientsPerRound) / 20 }

    /// Refuses a quantile outside [0, 1], a learning rate or count noise that is not positive, naming the parameter.
    public func validate() throws(FederationError) {
        guard targetQuantile >= 0, targetQuantile <= 1 else {
            throw FederationError(
                .invalidParameter, "the target quantile of adaptive clipping must be in [0, 1], got \(targetQuantile)")
        }
        guard learningRate > 0, learningRate.isFinite else {
            throw FederationError(
                .invalidParameter,
                "the clip learning rate of adaptive clipping must be positive and finite, got \(learningRate)")
        }
        guard countNoise > 0, countNoise.isFinite else {
            throw FederationError(
                .invalidParameter, "the count noise of adaptive clipping must be positive and finite, got \(countNoise)"
            )
        }
        do {
            _ = try DiscreteGaussianMechanism(clip: 1, noiseMultiplier: 2 * countNoise)
        } catch {
            throw FederationError(.invalidParameter, "the count noise of adaptive clipping: \(error.reason)")
        }
    }

    /// What releases Σᵢ(2bᵢ − 1): records of norm 1 at noise multiplier 2σ_b (checked by `validate()`).
    var countMechanism: DiscreteGaussianMechanism {
        do throws(PrivacyError) {
            return try DiscreteGaussianMechanism(clip: 1, noiseMultiplier: 2 * countNoise)
        } catch {
            preconditionFailure("adaptive clipping checked its count noise: \(error.reason)")
        }
    }

    /// Σᵢ(bᵢ − ½) released with noise of standard deviation σ_b, for a round in which `unclipped` of the
    /// `participants` updates had norm at most its clip; the noise draws from `random`.
    public func releasedCount<Source: RandomNumberGenerator>(
        unclipped: Int, participants: Int, random: inout Source
    ) -> Double {
        let mechanism = countMechanism
        let noise = mechanism.noise.sample(using: &random)
        // Σᵢ(2bᵢ − 1) in grid units: each client adds ±Δ.
        let units = (2 * Int64(unclipped) - Int64(participants)) * mechanism.sensitivity
        return mechanism.release(sum: units, noise: noise) / 2
    }

    /// The clip after a round clipped with `clip` whose centred count was released as `releasedCount`
    /// (`releasedCount(unclipped:participants:random:)`); `clientsPerRound` is the expected cohort m.
    public func nextClip(after clip: Double, releasedCount: Double, clientsPerRound: Int) -> Double {
        let fraction = releasedCount / Double(clientsPerRound) + 0.5
        return clip * exp(-learningRate * (fraction - targetQuantile))
    }
}

extension AdaptiveClipping {
    /// Decodes the parameters and checks them as `init(targetQuantile:…)` does.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            targetQuantile: container.decode(Double.self, forKey: .targetQuantile),
            learningRate: container.decode(Double.self, forKey: .learningRate),
            countNoise: container.decode(Double.self, forKey: .countNoise))
    }
}
