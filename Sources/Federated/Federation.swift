public import FoundationEssentials
public import Learning
public import Privacy

/// The open round of a federation: its number, the cohort the aggregator sampled for it, when it opened, the clip its
/// updates get with DP, who has contributed (one update per client, in arrival order) and what their updates add up to
/// so far.
///
/// Mean strategies fold each update in as it arrives, so a round holds one vector whatever its size: FedAvg keeps
/// Σ nᵢθᵢ and Σ nᵢ, DP-FedAvg Σ clip(θᵢ − θ, C) in the grid units of the round's discrete Gaussian mechanism, exactly.
/// Median, trimmed mean and Krum need every update at once and keep them.
public struct FederatedRound: Sendable, Equatable {
    public let number: Int
    public let cohort: [String]
    public let openedAt: Date
    /// The cohort's expected size, what DP-FedAvg divides the round's noisy sum by: m·E/N for the E clients eligible
    /// when it opened (all N without a budget, so m).
    public let expectedCohort: Double
    /// The L2 bound each update's difference from the global model is clipped to (nil without DP).
    public var clip: Double? { mechanism?.clip }
    /// With DP, what the round's clipped update sum is released by.
    public let mechanism: DiscreteGaussianMechanism?
    public fileprivate(set) var participants: [String] = []
    /// The cohort and the participants as sets: a round of thousands of clients checks each submission in O(1).
    fileprivate let sampled: Set<String>
    fileprivate var contributed: Set<String> = []
    fileprivate var updates: [ClientUpdate] = []
    fileprivate var sum: [Double] = []
    /// With DP, Σ clip(θᵢ − θ, C) in the mechanism's grid units.
    fileprivate var units: [Int64] = []
    fileprivate var weight = 0.0
    /// How many updates had norm at most `clip` (what adaptive clipping counts).
    fileprivate var unclipped = 0
}

/// What closing a round published: the new global model, who contributed to it, and the client-level privacy spent
/// so far on the most-sampled client (nil without DP).
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
    /// With DP, how many closed rounds each client was sampled into (clients never sampled are absent): what each has
    /// spent, since the published cohorts leave no amplification (`ClientLevelPrivacy`).
    public private(set) var participations: [String: Int] = [:]
    /// With DP and a budget, the most rounds one client may be sampled into (`ClientLevelPrivacy.participationLimit`).
    private let participationLimit: Int?

    /// Starts round 1 at `now` from `initialModel`; refuses a plan whose first round is already past the budget.
    public init<Source: RandomNumberGenerator>(
        plan: FederationPlan, initialModel: [Float], at now: Date, random: inout Source
    ) throws(FederationError) {
        guard !initialModel.isEmpty, initialModel.allSatisfy(\.isFinite) else {
            throw FederationError(.invalidParameter, "the initial model must be a non-empty finite vector")
        }
        try plan.privacy?.checkBudget(participations: 1)
        self.plan = plan
        registered = Set(plan.clients)
        globalModel = initialModel
        clip = plan.privacy?.clip
        optimizer = plan.serverOptimizer.map(ServerOptimizerState.init)
        participationLimit = try plan.privacy?.participationLimit()
        round = try Self.open(1, plan: plan, eligible: plan.clients, clip: clip, at: now, random: &random)
    }

    /// The client-level privacy the published models have spent on the most-sampled client (nil without DP).
    public var privacySpent: PrivacyReport? {
        get throws(FederationError) {
            try plan.privacy?.report(participations: participations.values.max() ?? 0)
        }
    }

    /// Accepts `update` from the authenticated `client` for round `number`, or throws naming the failed check.
    /// A refused update leaves the round as it was.
    public mutating func submit(_ update: ClientUpdate, from client: String, round number: Int) throws(FederationError)
    {
        if let refusal = submit([Submission(update, from: client, round: number)], concurrently: Self.serially)[0] {
            throw refusal
        }
    }

    /// One update to admit: what the authenticated `client` sent for round `round`.
    public struct Submission: Sendable {
        public let update: ClientUpdate
        public let client: String
        public let round: Int

        public init(_ update: ClientUpdate, from client: String, round: Int) {
            self.update = update
            self.client = client
            self.round = round
        }
    }

    /// Runs `body` once for every index below `count`, possibly on several threads at once, and returns when every
    /// call has.
    public typealias ConcurrentLoop = @Sendable (_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> Void

    /// One index after another on the calling thread.
    public static let serially: ConcurrentLoop = { count, body in
        for index in 0..<count { body(index) }
    }

    /// Admits `batch` in order exactly as one `submit` after another would (the same refusals, each refused update
    /// leaving the round as it was, the same sums to the last bit), with the work that grows with the model spread
    /// over `loop`: each update's own checks and clip norm, then the fold, coordinate range by coordinate range.
    /// Returns each submission's refusal, nil for those admitted.
    public mutating func submit(_ batch: [Submission], concurrently loop: ConcurrentLoop) -> [FederationError?] {
        // Taken out of `round` while it changes, so the running sum has one owner and folds in place (a copy left
        // in `round` would make the first write copy every parameter).
        guard var open = round.take() else {
            let finished = FederationError(.roundNotReady, "the federation has finished: \(finishReason ?? "")")
            return batch.map { _ in finished }
        }
        defer { round = open }
        let own = Self.concurrentMap(batch.count, loop) { [globalModel, mechanism = open.mechanism] index in
            Self.ownChecks(batch[index], global: globalModel, mechanism: mechanism)
        }
        var refusals: [FederationError?] = []
        var admitted: [(submission: Submission, clipFactor: Double)] = []
        for (submission, checked) in zip(batch, own) {
            let client = submission.client
            let refusal: FederationError? =
                if !registered.contains(client) {
                    FederationError(.unknownClient, "client \"\(client)\" is not registered")
                } else if submission.round != open.number {
                    FederationError(
                        .staleRound,
                        "client \"\(client)\" submitted for round \(submission.round), the open round is \(open.number)"
                    )
                } else if !open.sampled.contains(client) {
                    FederationError(.notInCohort, "client \"\(client)\" was not sampled into round \(open.number)")
                } else if open.contributed.contains(client) {
                    FederationError(
                        .duplicateSubmission,
                        "client \"\(client)\" already submitted an update for round \(open.number)")
                } else {
                    checked.refusal
                }
            refusals.append(refusal)
            guard refusal == nil else { continue }
            open.participants.append(client)
            open.contributed.insert(client)
            if checked.withinClip { open.unclipped += 1 }
            if open.mechanism == nil && !plan.strategy.isMean { open.updates.append(submission.update) }
            if open.mechanism == nil && plan.strategy.isMean { open.weight += Double(submission.update.exampleCount) }
            // With DP, an update whose grid units are past the sensitivity (floating-point rounding at the clip; never
            // seen) takes part and adds nothing, as in DP-SGD: the decision depends on that update alone.
            if open.mechanism == nil || checked.withinSensitivity { admitted.append((submission, checked.clipFactor)) }
        }
        if let mechanism = open.mechanism, !admitted.isEmpty {
            if open.units.isEmpty { open.units = Array(repeating: 0, count: globalModel.count) }
            Self.fold(admitted, into: &open.units, around: globalModel, onto: mechanism, loop)
        } else if plan.strategy.isMean && !admitted.isEmpty {
            if open.sum.isEmpty { open.sum = Array(repeating: 0, count: globalModel.count) }
            Self.fold(admitted, into: &open.sum, loop)
        }
        return refusals
    }

    /// What can be checked of one update without the round's state, and its clip.
    private struct OwnChecks: Sendable {
        var refusal: FederationError?
        var clipFactor = 1.0
        var withinClip = false
        /// With DP, whether the clipped update's grid units are within the mechanism's sensitivity, exactly.
        var withinSensitivity = false
    }

    private static func ownChecks(
        _ submission: Submission, global: [Float], mechanism: DiscreteGaussianMechanism?
    ) -> OwnChecks {
        let (client, parameters) = (submission.client, submission.update.parameters)
        guard parameters.count == global.count else {
            return OwnChecks(
                refusal: FederationError(
                    .wrongShape,
                    "client \"\(client)\" sent \(parameters.count) parameters, the model has \(global.count)"))
        }
        if !Self.allFinite(parameters), let index = parameters.firstIndex(where: { !$0.isFinite }) {
            return OwnChecks(
                refusal: FederationError(
                    .nonFinite, "client \"\(client)\" sent \(parameters[index]) at parameter \(index)"))
        }
        guard submission.update.exampleCount > 0 else {
            return OwnChecks(
                refusal: FederationError(
                    .invalidUpdate,
                    "client \"\(client)\" claims \(submission.update.exampleCount) examples; at least 1 is needed"))
        }
        guard let mechanism else { return OwnChecks() }
        let (norm, factor) = ClientLevelPrivacy.clipping(parameters, around: global, to: mechanism.clip)
        var exact = RecordNorm()
        parameters.withUnsafeBufferPointer { values in
            global.withUnsafeBufferPointer { origin in
                for index in 0..<values.count {
                    exact.add(mechanism.units(Self.clipped(values[index], around: origin[index], by: factor)))
                }
            }
        }
        return OwnChecks(
            clipFactor: factor, withinClip: norm <= mechanism.clip, withinSensitivity: mechanism.admits(exact))
    }

    /// A coordinate of a clipped update's difference from the global model: the one expression both the exact norm
    /// check and the fold put on the grid, so they see the same units.
    @inline(__always)
    private static func clipped(_ value: Float, around origin: Float, by factor: Double) -> Double {
        (Double(value) - Double(origin)) * factor
    }

    /// Whether every value is finite, with no branch per value so that the loop vectorises: the exponent field plus
    /// one carries into the sign bit only when it is all ones (an infinity or a NaN).
    static func allFinite(_ values: [Float]) -> Bool {
        values.withUnsafeBufferPointer { buffer in
            var carries: UInt32 = 0
            for value in buffer { carries |= (value.bitPattern & 0x7f80_0000) &+ 0x0080_0000 }
            return carries & 0x8000_0000 == 0
        }
    }

    /// Adds nᵢθᵢ of the admitted updates to `sum` in their order, coordinate range by coordinate range.
    private static func fold(
        _ admitted: [(submission: Submission, clipFactor: Double)], into sum: inout [Double], _ loop: ConcurrentLoop
    ) {
        let count = sum.count
        sum.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let sum = buffer
            loop(rangeCount(count)) { part in
                let range = Self.range(part, of: count)
                for (submission, _) in admitted {
                    submission.update.parameters.withUnsafeBufferPointer { values in
                        let weight = Double(submission.update.exampleCount)
                        for index in range { sum[index] += weight * Double(values[index]) }
                    }
                }
            }
        }
    }

    /// Adds the admitted updates' clipped differences from `global`, in `mechanism`'s grid units, to `units`,
    /// coordinate range by coordinate range. Integer sums do not depend on the order.
    private static func fold(
        _ admitted: [(submission: Submission, clipFactor: Double)], into units: inout [Int64], around global: [Float],
        onto mechanism: DiscreteGaussianMechanism, _ loop: ConcurrentLoop
    ) {
        let count = units.count
        units.withUnsafeMutableBufferPointer { buffer in
            global.withUnsafeBufferPointer { origin in
                nonisolated(unsafe) let (units, origin) = (buffer, origin)
                loop(rangeCount(count)) { part in
                    let range = Self.range(part, of: count)
                    for (submission, factor) in admitted {
                        submission.update.parameters.withUnsafeBufferPointer { values in
                            for index in range {
                                units[index] &+= mechanism.units(
                                    Self.clipped(values[index], around: origin[index], by: factor))
                            }
                        }
                    }
                }
            }
        }
    }

    /// The folds work one coordinate range at a time, the ranges spread over the loop: a range's running sum
    /// (512 KiB) stays in the core's cache while every update of a batch adds to it.
    private static let rangeLength = 1 << 16

    private static func rangeCount(_ count: Int) -> Int { (count + rangeLength - 1) / rangeLength }

    private static func range(_ part: Int, of count: Int) -> Range<Int> {
        (part * rangeLength)..<min(count, (part + 1) * rangeLength)
    }

    /// `transform` of every index below `count`, computed by `loop`, in order.
    private static func concurrentMap<Result: Sendable>(
        _ count: Int, _ loop: ConcurrentLoop, _ transform: @escaping @Sendable (Int) -> Result
    ) -> [Result] {
        let results = UnsafeMutableBufferPointer<Result?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            _ = results.deinitialize()
            results.deallocate()
        }
        nonisolated(unsafe) let slots = results
        // Each index is computed once, so each slot is written by one call.
        loop(count) { index in slots[index] = transform(index) }
        return results.map { $0! }
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
    public mutating func close<Source: RandomNumberGenerator>(
        at now: Date, random: inout Source
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
        if let privacy = plan.privacy, let mechanism = open.mechanism {
            // θ + (Σ clip(θᵢ − θ, C) released with noise multiplier z_Δ) / E[cohort], coordinate by coordinate.
            let noise = mechanism.drawNoise(count: globalModel.count, using: &random)
            let cohort = open.expectedCohort
            let units = open.units.isEmpty ? Array(repeating: 0, count: globalModel.count) : open.units
            aggregate = globalModel.indices.map { index in
                Double(globalModel[index]) + mechanism.release(sum: units[index], noise: noise[index]) / cohort
            }
            if let adaptive = privacy.adaptiveClipping {
                let count = adaptive.releasedCount(
                    unclipped: open.unclipped, participants: open.participants.count, random: &random)
                clip = adaptive.nextClip(
                    after: mechanism.clip, releasedCount: count, clientsPerRound: privacy.clientsPerRound)
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
        if plan.privacy != nil {
            for client in open.cohort { participations[client, default: 0] += 1 }
        }
        // With a budget, clients sampled into as many rounds as it allows are sampled no more.
        let eligible = participationLimit.map { limit in plan.clients.filter { participations[$0, default: 0] < limit }
        }
        if completedRounds == plan.rounds {
            finishReason = "all \(plan.rounds) rounds ran"
        } else if !Self.allFinite(globalModel) {
            // No later update could be clipped around it, or averaged into it.
            finishReason = "round \(open.number)'s global model is not finite (a parameter overflowed Float)"
        } else if let eligible, eligible.isEmpty, let limit = participationLimit, let privacy = plan.privacy {
            finishReason =
                "every client has been sampled into \(limit) round(s), the most the budget of epsilon \(privacy.epsilonBudget ?? 0) at delta \(privacy.delta) allows"
        } else {
            do {
                round = try Self.open(
                    completedRounds + 1, plan: plan, eligible: eligible ?? plan.clients, clip: clip, at: now,
                    random: &random)
            } catch {
                finishReason = error.reason
            }
        }
        return RoundOutcome(
            round: open.number, participants: open.participants, model: globalModel, privacy: try privacySpent)
    }

    /// Opens round `number` clipping at `clip`: each of the `eligible` clients independently with probability exactly
    /// M/N (`PoissonSampling`), every one when M = N. Refuses a clip the round's mechanism cannot take (an adaptive
    /// clip driven out of the positive finite numbers).
    private static func open<Source: RandomNumberGenerator>(
        _ number: Int, plan: FederationPlan, eligible: [String], clip: Double?, at now: Date, random: inout Source
    ) throws(FederationError) -> FederatedRound {
        let (sampled, registered) = (plan.clientsPerRound, plan.clients.count)
        let cohort =
            sampled >= registered
            ? eligible
            : eligible.filter { _ in PoissonSampling.includes(sampled, outOf: registered, using: &random) }
        var mechanism: DiscreteGaussianMechanism?
        if let clip, let privacy = plan.privacy {
            do {
                mechanism = try DiscreteGaussianMechanism(clip: clip, noiseMultiplier: privacy.updateNoiseMultiplier)
            } catch {
                throw FederationError(.invalidParameter, "round \(number) cannot clip at \(clip): \(error.reason)")
            }
        }
        let expected =
            sampled >= registered ? Double(eligible.count) : Double(sampled * eligible.count) / Double(registered)
        return FederatedRound(
            number: number, cohort: cohort, openedAt: now, expectedCohort: expected, mechanism: mechanism,
            sampled: Set(cohort))
    }
}
