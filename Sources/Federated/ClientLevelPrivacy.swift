public import Learning
public import Privacy

/// DP-FedAvg with fixed clipping (McMahan et al. 2018; Flower's server-side fixed clipping): each client's update
/// Δᵢ = θᵢ − θ is clipped to L2 norm C, the clipped updates are summed, the sum divided by the expected cohort m, and
/// Gaussian noise of standard deviation z·C/m added to every coordinate. One client changes the sum by at most C, so
/// a round is the Gaussian mechanism with noise multiplier z on a cohort the enclave samples at rate q = m/N from the
/// N registered clients; `rounds` rounds compose as `rounds` steps of the subsampled Gaussian mechanism.
public struct ClientLevelPrivacy: Sendable, Hashable, Codable {
    public let noiseMultiplier: Double
    public let clip: Double
    public let delta: Double
    /// The most ε (by the tight accountant, `Accountant.tight`) the published models may spend; nil for no limit.
    public let epsilonBudget: Double?
    public let clientsPerRound: Int
    public let registeredClients: Int

    public init(
        noiseMultiplier: Double, clip: Double, delta: Double, epsilonBudget: Double? = nil, clientsPerRound: Int,
        registeredClients: Int
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
        self.noiseMultiplier = noiseMultiplier
        self.clip = clip
        self.delta = delta
        self.epsilonBudget = epsilonBudget
        self.clientsPerRound = clientsPerRound
        self.registeredClients = registeredClients
    }

    /// q = m/N, the rate at which each client is sampled into a round's cohort.
    public var samplingRate: Double { Double(clientsPerRound) / Double(registeredClients) }

    /// z·C/m, the noise added to each coordinate of the averaged update.
    public var noiseStandardDeviation: Double { noiseMultiplier * clip / Double(clientsPerRound) }

    /// Scales `update` in place by min(1, C/‖update‖₂) and returns its norm before clipping. A vector that is not
    /// finite is refused before it gets here.
    @discardableResult
    public static func clip(_ update: inout [Double], to bound: Double) -> Double {
        let norm = update.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let factor = PerExampleClipping.factor(norm: norm, bound: bound)
        if factor < 1 { for index in update.indices { update[index] *= factor } }
        return norm
    }

    /// The client-level privacy of `rounds` published rounds, by each of `accountants`.
    public func report(
        afterRounds rounds: Int, by accountants: [Accountant] = PrivacyReport.defaultAccountants
    ) throws(FederationError) -> PrivacyReport {
        do {
            return try PrivacyReport(
                SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier), steps: rounds,
                delta: delta, by: accountants)
        } catch {
            throw FederationError(.invalidParameter, error.reason)
        }
    }

    /// Refuses `rounds` rounds when they would spend more than the budget by `accountant`.
    public func checkBudget(rounds: Int, by accountant: Accountant = .tight) throws(FederationError) {
        guard let epsilonBudget else { return }
        let spent: Double
        do {
            // The coarse setting is pessimistic: a plan it admits spends at most the budget by the exact report too.
            spent = try accountant.epsilon(
                SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier), steps: rounds,
                delta: delta, coarse: true
            ).epsilon
        } catch {
            throw FederationError(.invalidParameter, error.reason)
        }
        guard spent <= epsilonBudget else {
            throw FederationError(
                .budgetExhausted,
                "\(rounds) round(s) at noise multiplier \(noiseMultiplier) and sampling rate \(samplingRate) spend epsilon \(spent) (\(accountant.rawValue)), past the budget of \(epsilonBudget) at delta \(delta)"
            )
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
            registeredClients: container.decode(Int.self, forKey: .registeredClients))
    }
}
