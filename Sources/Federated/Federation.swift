public import FoundationEssentials
public import Learning

/// The open round of a federation: its number, the cohort the aggregator sampled for it, when it opened, the clip its
/// updates get with DP, who has contributed (one update per client, in arrival order) and what their updates add up to
/// so far.
///
/// Mean strategies fold each update in as it arrives, so a round holds one vector whatever its size: FedAvg keeps
/// Σ nᵢθᵢ and Σ nᵢ, DP-FedAvg Σ clip(θᵢ − θ, C). Median, trimmed mean and Krum need every update at once and keep them.
public struct FederatedRound: Sendable, Equatable {
    public let number: Int
    public let cohort: [String]
    public let openedAt: Date
    /// The L2 bound each update's difference from the global model is clipped to (nil without DP).
    public let clip: Double?
    public fileprivate(set) var participants: [String] = []
    /// The cohort and the participants as sets: a round of thousands of clients checks each submission in O(1).
    fileprivate let sampled: Set<String>
    fileprivate var contributed: Set<String> = []
    fileprivate var updates: [ClientUpdate] = []
    fileprivate var sum: [Double] = []
    fileprivate var weight = 0.0
    /// How many updates had norm at most `clip` (what adaptive clipping counts).
    fileprivate var unclipped = 0
}

/// What closing a round published: the new global model, who contributed to it, and the client-level privacy spent
/// by all rounds so far (nil without DP).
public struct RoundOutcome: Sendable, Equatable {
    public let round: Int
    public let participants: [String]
    public let model: [Float]
    public let privacy: PrivacyReport?
}

/// The aggregator's state across rounds, as a pure value: it samples each round's cohort, accepts authenticated
/// clients' updates for the open round, refuses everything else with a reason, and closes rounds by the plan's
/// strategy or DP-FedAvg, then its server optimizer. Time and randomness come in as arguments; the enclave workload
/// wraps this with authentication and signing.
public struct Federation: Sendable {
    public let plan: FederationPlan
    /// `plan.clients` as a set.
    private let registered: Set<String>
    public private(set) var globalModel: [Float]
    /// The open round; nil once the federation has finished.
    public private(set) var round: FederatedRound?
    public private(set) var completedRounds = 0
    /// Why the federation finished (all rounds run, or the privacy budget).
    public private(set) var finishReason: String?
    /// With DP, the clip the next round opens with: the plan's, or where adaptive clipping has moved it.
    public private(set) var clip: Double?
    /// The server optimizer's moments and steps (nil without one).
    public private(set) var optimizer: ServerOptimizerState?

    /// Starts round 1 at `now` from `initialModel`; refuses a plan whose first round is already past the budget.
    public init<Source>(
        plan: FederationPlan, initialModel: [Float], at now: Date, random: inout GaussianSampler<Source>
    ) throws(FederationError) {
        guard !initialModel.isEmpty, initialModel.allSatisfy(\.isFinite) else {
            throw FederationError(.invalidParameter, "the initial model must be a non-empty finite vector")
        }
        try plan.privacy?.checkBudget(rounds: 1)
        self.plan = plan
        registered = Set(plan.clients)
        globalModel = initialModel
        clip = plan.privacy?.clip
        optimizer = plan.serverOptimizer.map(ServerOptimizerState.init)
        round = Self.open(1, plan: plan, clip: clip, at: now, random: &random)
    }

    /// The privacy spent by the rounds published so far (nil without DP).
    public var privacySpent: PrivacyReport? {
        get throws(FederationError) {
            try plan.privacy?.report(afterRounds: completedRounds)
        }
    }

    /// Accepts `update` from the authenticated `client` for round `number`, or throws naming the failed check.
    /// A refused update leaves the round as it was.
    public mutating func submit(_ update: ClientUpdate, from client: String, round number: Int) throws(FederationError)
    {
        // Taken out of `round` while it changes, so the running sum has one owner and folds in place (a copy left
        // in `round` would make the first write copy every parameter).
        guard var open = round.take() else {
            throw FederationError(.roundNotReady, "the federation has finished: \(finishReason ?? "")")
        }
        defer { round = open }
        guard registered.contains(client) else {
            throw FederationError(.unknownClient, "client \"\(client)\" is not registered")
        }
        guard number == open.number else {
            throw FederationError(
                .staleRound, "client \"\(client)\" submitted for round \(number), the open round is \(open.number)")
        }
        guard open.sampled.contains(client) else {
            throw FederationError(.notInCohort, "client \"\(client)\" was not sampled into round \(open.number)")
        }
        guard !open.contributed.contains(client) else {
            throw FederationError(
                .duplicateSubmission, "client \"\(client)\" already submitted an update for round \(open.number)")
        }
        guard update.parameters.count == globalModel.count else {
            throw FederationError(
                .wrongShape,
                "client \"\(client)\" sent \(update.parameters.count) parameters, the model has \(globalModel.count)")
        }
        if let index = update.parameters.firstIndex(where: { !$0.isFinite }) {
            throw FederationError(
                .nonFinite, "client \"\(client)\" sent \(update.parameters[index]) at parameter \(index)")
        }
        guard update.exampleCount > 0 else {
            throw FederationError(
                .invalidUpdate, "client \"\(client)\" claims \(update.exampleCount) examples; at least 1 is needed")
        }
        open.participants.append(client)
        open.contributed.insert(client)
        if let bound = open.clip {
            if open.sum.isEmpty { open.sum = Array(repeating: 0, count: globalModel.count) }
            var delta = zip(update.parameters, globalModel).map { Double($0) - Double($1) }
            if ClientLevelPrivacy.clip(&delta, to: bound) <= bound { open.unclipped += 1 }
            for index in delta.indices { open.sum[index] += delta[index] }
        } else if plan.strategy.isMean {
            if open.sum.isEmpty { open.sum = Array(repeating: 0, count: globalModel.count) }
            let weight = Double(update.exampleCount)
            open.sum.withUnsafeMutableBufferPointer { sum in
                update.parameters.withUnsafeBufferPointer { values in
                    for index in 0..<sum.count { sum[index] += weight * Double(values[index]) }
                }
            }
            open.weight += weight
        } else {
            open.updates.append(update)
        }
    }

    /// True when the open round may close at `now`: enough of its cohort has submitted (at once for an empty cohort),
    /// or it has timed out holding an update (with DP, a round whose cohort sent nothing still publishes its noise).
    public func canClose(at now: Date) -> Bool {
        guard let open = round else { return false }
        if open.participants.count >= min(plan.minClients, open.cohort.count) { return true }
        let timedOut = now.timeIntervalSince(open.openedAt) >= plan.roundTimeout
        return timedOut && (!open.participants.isEmpty || plan.privacy != nil)
    }

    /// Closes the open round: aggregates its updates (with DP, clips, sums and noises them, and moves an adaptive
    /// clip), lets the server optimizer step towards the aggregate to give the new global model, opens the next round
    /// (or finishes when the rounds or the privacy budget are used up), and returns what was published. Without DP, a
    /// round whose sampled cohort is empty publishes the model unchanged and leaves the optimizer as it was.
    public mutating func close<Source>(
        at now: Date, random: inout GaussianSampler<Source>
    ) throws(FederationError) -> RoundOutcome {
        guard let open = round else {
            throw FederationError(.roundNotReady, "the federation has finished: \(finishReason ?? "")")
        }
        guard canClose(at: now) else {
            throw FederationError(
                .roundNotReady,
                "round \(open.number) holds \(open.participants.count) of the \(min(plan.minClients, open.cohort.count)) updates it waits for and has not timed out"
            )
        }
        let aggregate: [Double]?
        if let privacy = plan.privacy, let bound = open.clip {
            // θ + (Σ clip(θᵢ − θ, C) + N(0, (z_Δ·C)²)) / m, coordinate by coordinate.
            let deviation = privacy.updateNoiseMultiplier * bound
            let cohort = Double(privacy.clientsPerRound)
            let sum = open.sum.isEmpty ? Array(repeating: 0, count: globalModel.count) : open.sum
            aggregate = globalModel.indices.map { index in
                Double(globalModel[index]) + (sum[index] + deviation * random.next()) / cohort
            }
            if let adaptive = privacy.adaptiveClipping {
                clip = adaptive.nextClip(
                    after: bound, unclipped: open.unclipped, participants: open.participants.count,
                    clientsPerRound: privacy.clientsPerRound, standardNormal: random.next())
            }
        } else if open.participants.isEmpty {
            aggregate = nil
        } else if plan.strategy.isMean {
            aggregate = open.sum.map { $0 / open.weight }
        } else {
            aggregate = try plan.strategy.aggregate(open.updates)
        }
        if let aggregate {
            if var optimizer {
                globalModel = optimizer.step(
                    aggregate: aggregate, global: globalModel.map(Double.init), round: open.number
                ).map(Float.init)
                self.optimizer = optimizer
            } else {
                globalModel = aggregate.map(Float.init)
            }
        }
        completedRounds += 1
        round = nil
        if completedRounds == plan.rounds {
            finishReason = "all \(plan.rounds) rounds ran"
        } else {
            do {
                try plan.privacy?.checkBudget(rounds: completedRounds + 1)
                round = Self.open(completedRounds + 1, plan: plan, clip: clip, at: now, random: &random)
            } catch {
                finishReason = error.reason
            }
        }
        return RoundOutcome(
            round: open.number, participants: open.participants, model: globalModel, privacy: try privacySpent)
    }

    /// Opens round `number` clipping at `clip`: each client independently with probability M/N (the Poisson sampling
    /// the accountant assumes with DP), every client when M = N.
    private static func open<Source>(
        _ number: Int, plan: FederationPlan, clip: Double?, at now: Date, random: inout GaussianSampler<Source>
    ) -> FederatedRound {
        let rate = plan.samplingRate
        let cohort = rate >= 1 ? plan.clients : plan.clients.filter { _ in random.uniform() < rate }
        return FederatedRound(number: number, cohort: cohort, openedAt: now, clip: clip, sampled: Set(cohort))
    }
}
