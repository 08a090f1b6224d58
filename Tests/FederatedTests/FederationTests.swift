import Federated
import Foundation
import Learning
import Privacy
import Testing

@Suite("Federation rounds: submissions, closing, DP-FedAvg, budget")
struct FederationTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let clients = ["a", "b", "c"]

    static func federation(
        minClients: Int = 3, strategy: AggregationStrategy = .fedAvg, privacy: ClientLevelPrivacy? = nil,
        rounds: Int = 5, model: [Float] = [0, 0]
    ) throws -> Federation {
        var random = SplitMix64(seed: 1)
        let plan = try FederationPlan(
            clients: privacy.map { p in (0..<p.registeredClients).map { "c\($0)" } } ?? clients, rounds: rounds,
            minClients: minClients, roundTimeout: 30, strategy: strategy, privacy: privacy)
        return try Federation(plan: plan, initialModel: model, at: start, random: &random)
    }

    @Test("every invalid submission is refused for its own reason and leaves the round as it was")
    func refusals() throws {
        var federation = try Self.federation()
        try federation.submit(ClientUpdate(parameters: [1, 1], exampleCount: 5), from: "a", round: 1)
        let before = federation.round
        let cases: [(ClientUpdate, String, Int, FederationError.Code)] = [
            (ClientUpdate(parameters: [1, 1], exampleCount: 5), "mallory", 1, .unknownClient),
            (ClientUpdate(parameters: [1, 1], exampleCount: 5), "b", 2, .staleRound),
            (ClientUpdate(parameters: [1, 1], exampleCount: 5), "b", 0, .staleRound),
            (ClientUpdate(parameters: [2, 2], exampleCount: 5), "a", 1, .duplicateSubmission),
            (ClientUpdate(parameters: [1, 1, 1], exampleCount: 5), "b", 1, .wrongShape),
            (ClientUpdate(parameters: [1, .nan], exampleCount: 5), "b", 1, .nonFinite),
            (ClientUpdate(parameters: [-.infinity, 1], exampleCount: 5), "b", 1, .nonFinite),
            (ClientUpdate(parameters: [1, 1], exampleCount: 0), "b", 1, .invalidUpdate),
        ]
        for (update, client, round, code) in cases {
            #expect(throws: FederationError.self) { try federation.submit(update, from: client, round: round) }
            do {
                try federation.submit(update, from: client, round: round)
            } catch {
                #expect(error.code == code, "\(client) round \(round): \(error.reason)")
            }
            #expect(federation.round == before)
        }
    }

    @Test("a round closes at K updates, or at the timeout with fewer, keeping what was submitted")
    func closing() throws {
        var federation = try Self.federation(minClients: 2)
        var random = SplitMix64(seed: 2)
        try federation.submit(ClientUpdate(parameters: [1, 2], exampleCount: 1), from: "a", round: 1)
        #expect(!federation.canClose(at: Self.start.addingTimeInterval(29)))
        #expect(throws: FederationError.self) { try federation.close(at: Self.start, random: &random) }
        try federation.submit(ClientUpdate(parameters: [3, 6], exampleCount: 3), from: "c", round: 1)
        let first = try federation.close(at: Self.start.addingTimeInterval(1), random: &random)
        #expect(first.round == 1 && first.participants == ["a", "c"] && first.model == [2.5, 5])
        #expect(federation.round?.number == 2)
        // Round 2: one dropout-heavy round, closed by the timeout with the single update it holds.
        try federation.submit(ClientUpdate(parameters: [7, 7], exampleCount: 1), from: "b", round: 2)
        #expect(!federation.canClose(at: Self.start.addingTimeInterval(30)))
        let second = try federation.close(at: Self.start.addingTimeInterval(31), random: &random)
        #expect(second.model == [7, 7] && second.participants == ["b"])
        // A round with nothing in it does not close, even timed out.
        #expect(!federation.canClose(at: Self.start.addingTimeInterval(1000)))
    }

    @Test("a round folds mean-strategy updates in as they arrive and publishes what the batch rule gives")
    func streamingMatchesBatch() throws {
        var generator = SplitMix64(seed: 9)
        let updates = (0..<3).map { index in
            ClientUpdate(
                parameters: (0..<50).map { _ in Float.random(in: -5...5, using: &generator) }, exampleCount: index + 1)
        }
        for strategy in [AggregationStrategy.fedAvg, .median, .krum(byzantine: 0, keep: 2)] {
            var federation = try Self.federation(strategy: strategy, model: [Float](repeating: 0, count: 50))
            var random = SplitMix64(seed: 10)
            for (client, update) in zip(Self.clients, updates) {
                try federation.submit(update, from: client, round: 1)
            }
            let published = try federation.close(at: Self.start, random: &random).model
            let batch = try strategy.aggregate(updates).map(Float.init)
            #expect(zip(published, batch).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($1)) }, "\(strategy.name)")
        }
    }

    @Test("the federation finishes after its rounds and refuses later submissions")
    func finishes() throws {
        var federation = try Self.federation(minClients: 1, rounds: 1)
        var random = SplitMix64(seed: 3)
        try federation.submit(ClientUpdate(parameters: [1, 1], exampleCount: 1), from: "a", round: 1)
        _ = try federation.close(at: Self.start, random: &random)
        #expect(federation.round == nil && federation.finishReason == "all 1 rounds ran")
        #expect(throws: FederationError.self) {
            try federation.submit(ClientUpdate(parameters: [1, 1], exampleCount: 1), from: "b", round: 2)
        }
    }

    @Test("DP-FedAvg noise std is z·C/m (Flower's vector) and clipping scales to C (Flower's vector)")
    func flowerDPVectors() throws {
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 0.5, delta: 1e-5, clientsPerRound: 5, registeredClients: 5)
        #expect(abs(privacy.noiseStandardDeviation - 0.1) < 1e-15)
        let (norm, factor) = ClientLevelPrivacy.clipping([4, 5, 13], around: [1, 1, 1], to: 1.3)
        #expect(norm == 13)
        for (got, want) in zip([3, 4, 12].map { $0 * factor }, [0.3, 0.4, 1.2]) { #expect(abs(got - want) < 1e-12) }
        #expect(ClientLevelPrivacy.clipping([0.1, 0.2], around: [0, 0], to: 1).factor == 1)
    }

    @Test("the published model moves by the clipped mean plus Gaussian noise of std z·C/m")
    func privateRound() throws {
        let width = 20_000
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 2, clip: 0.5, delta: 1e-3, clientsPerRound: 4, registeredClients: 4)
        var federation = try Self.federation(
            minClients: 4, privacy: privacy, model: [Float](repeating: 1, count: width))
        var random = SplitMix64(seed: 4)
        for client in 0..<4 {
            // Every client moves one coordinate by 100: clipped to 0.5 each.
            var parameters = [Float](repeating: 1, count: width)
            parameters[0] = 101
            try federation.submit(ClientUpdate(parameters: parameters, exampleCount: 1), from: "c\(client)", round: 1)
        }
        let outcome = try federation.close(at: Self.start, random: &random)
        let noise = outcome.model.dropFirst().map { Double($0) - 1 }
        let mean = noise.reduce(0, +) / Double(noise.count)
        let deviation = (noise.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(noise.count)).squareRoot()
        #expect(abs(deviation - 0.25) < 0.25 * 0.03, "sample std \(deviation), expected z·C/m = 0.25")
        #expect(abs(mean) < 0.01)
        // Coordinate 0 moved by 4 × 0.5 / 4 = 0.5, plus noise of std 0.25.
        #expect(abs(Double(outcome.model[0]) - 1.5) < 4 * 0.25)
        #expect(outcome.privacy?.steps == 1)
    }

    @Test("with q < 1 the enclave samples each round's cohort and refuses clients outside it")
    func cohort() throws {
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, clientsPerRound: 10, registeredClients: 100)
        let federation = try Self.federation(minClients: 5, privacy: privacy)
        let cohort = try #require(federation.round?.cohort)
        #expect(cohort.count > 0 && cohort.count < 40)
        let outsider = try #require((0..<100).map { "c\($0)" }.first { !cohort.contains($0) })
        var copy = federation
        #expect(throws: FederationError.self) {
            try copy.submit(ClientUpdate(parameters: [0, 0], exampleCount: 1), from: outsider, round: 1)
        }
    }

    /// DP at z = 1, C = 1, δ = 10⁻³ whose budget is just over what `rounds` rounds spend on one client (by PLD).
    static func privacy(budgetFor rounds: Int, perRound: Int, registered: Int) throws -> (
        budget: Double, privacy: ClientLevelPrivacy
    ) {
        let unlimited = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, clientsPerRound: perRound, registeredClients: registered)
        let budget = try #require(unlimited.report(participations: rounds).epsilon(by: .pld)) * 1.001
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, epsilonBudget: budget, clientsPerRound: perRound,
            registeredClients: registered)
        return (budget, privacy)
    }

    /// Every client of the open round sends a zero update, and the round closes.
    static func closeWithCohort(_ federation: inout Federation, _ random: inout SplitMix64) throws -> RoundOutcome {
        let round = try #require(federation.round)
        for client in round.cohort {
            try federation.submit(ClientUpdate(parameters: [0, 0], exampleCount: 1), from: client, round: round.number)
        }
        return try federation.close(at: start, random: &random)
    }

    @Test("rounds past the epsilon budget are refused: the federation stops before spending more")
    func budget() throws {
        let (budget, privacy) = try Self.privacy(budgetFor: 3, perRound: 3, registered: 3)
        var federation = try Self.federation(minClients: 3, privacy: privacy, rounds: 10)
        var random = SplitMix64(seed: 5)
        var published = 0
        while federation.round != nil, published < 10 {
            let outcome = try Self.closeWithCohort(&federation, &random)
            #expect(try #require(outcome.privacy?.epsilon(by: .pld)) <= budget)
            published += 1
        }
        #expect(published == 3)
        #expect(
            federation.finishReason?.hasPrefix("every client has been sampled into 3 round(s), the most the budget")
                == true)
        let tooSmall = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, epsilonBudget: 0.01, clientsPerRound: 3, registeredClients: 3)
        #expect(throws: FederationError.self) { try Self.federation(privacy: tooSmall) }
    }

    @Test(
        "with q < 1 no round is amplified: a model reports its most-sampled client, and a budget caps each client's rounds"
    )
    func publicCohorts() throws {
        let (_, privacy) = try Self.privacy(budgetFor: 2, perRound: 10, registered: 20)
        #expect(try privacy.participationLimit() == 2)
        let unlimited = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, clientsPerRound: 10, registeredClients: 20)
        #expect(try unlimited.participationLimit() == nil)
        var federation = try Self.federation(minClients: 20, privacy: privacy, rounds: 50)
        var random = SplitMix64(seed: 9)
        var closed = 0
        while let round = federation.round, closed < 50 {
            #expect(round.cohort.allSatisfy { federation.participations[$0, default: 0] < 2 }, "round \(round.number)")
            // The sum is divided by the expected cohort of the clients still eligible: m·E/N.
            let eligible = (0..<20).filter { federation.participations["c\($0)", default: 0] < 2 }.count
            #expect(round.expectedCohort == Double(10 * eligible) / 20)
            let outcome = try Self.closeWithCohort(&federation, &random)
            closed += 1
            let most = federation.participations.values.max() ?? 0
            #expect(outcome.privacy == (try privacy.report(participations: most)) && most <= 2)
            #expect(outcome.privacy?.samplingRate == 1)
        }
        #expect(federation.participations.count == 20 && federation.participations.values.allSatisfy { $0 == 2 })
        #expect(
            federation.finishReason?.hasPrefix("every client has been sampled into 2 round(s)") == true,
            "\(federation.finishReason ?? "")")
        #expect(closed < 50)
        // One round is past a budget below it: the plan is refused.
        let tight = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, epsilonBudget: 0.1, clientsPerRound: 10, registeredClients: 20)
        #expect(try tight.participationLimit() == 0)
        #expect(throws: FederationError.self) { try Self.federation(minClients: 20, privacy: tight) }
    }

    @Test("a DP global model that overflows Float finishes the federation; no later update can crash it")
    func overflowingModel() throws {
        // A clip past Float's largest value: the noise alone (std z·C/m) carries coordinates past it.
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1e40, delta: 1e-3, clientsPerRound: 3, registeredClients: 3)
        var federation = try Self.federation(minClients: 3, privacy: privacy, rounds: 5)
        var random = SplitMix64(seed: 12)
        let round = try #require(federation.round)
        for client in round.cohort {
            try federation.submit(
                ClientUpdate(parameters: [3e38, -3e38], exampleCount: 1), from: client, round: round.number)
        }
        let outcome = try federation.close(at: Self.start, random: &random)
        #expect(outcome.model.contains { !$0.isFinite })
        #expect(federation.round == nil)
        #expect(federation.finishReason?.contains("not finite") == true, "\(federation.finishReason ?? "")")
        let error = #expect(throws: FederationError.self) {
            try federation.submit(ClientUpdate(parameters: [1, 1], exampleCount: 1), from: "c0", round: 2)
        }
        #expect(error?.code == .roundNotReady)
    }

    @Test("bad plans are refused: DP with a robust strategy, K above the registry, delta above 1/N")
    func plans() throws {
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, clientsPerRound: 3, registeredClients: 3)
        #expect(throws: FederationError.self) { try Self.federation(strategy: .median, privacy: privacy) }
        #expect(throws: FederationError.self) { try Self.federation(minClients: 4) }
        #expect(throws: FederationError.self) {
            try ClientLevelPrivacy(noiseMultiplier: 1, clip: 1, delta: 0.5, clientsPerRound: 3, registeredClients: 3)
        }
        #expect(throws: FederationError.self) { try Self.federation(model: [.nan]) }
        #expect(throws: FederationError.self) {
            try ClientLevelPrivacy(
                noiseMultiplier: 1e-300, clip: 1, delta: 0.1, clientsPerRound: 3, registeredClients: 3)
        }
    }

    @Test("a plan decoded from JSON (what the host sends the enclave) is checked like one constructed")
    func decodedPlans() throws {
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, clientsPerRound: 3, registeredClients: 3)
        let good = try FederationPlan(
            clients: ["a", "b", "c"], rounds: 2, minClients: 3, roundTimeout: 60, strategy: .fedAvg, privacy: privacy)
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(good)) as! [String: Any]
        #expect(try JSONDecoder().decode(FederationPlan.self, from: JSONEncoder().encode(good)) == good)
        func decoding(_ change: (inout [String: Any]) -> Void) throws -> FederationError? {
            var object = encoded
            change(&object)
            let data = try JSONSerialization.data(withJSONObject: object)
            return #expect(throws: FederationError.self) { try JSONDecoder().decode(FederationPlan.self, from: data) }
        }
        #expect(try decoding { $0["rounds"] = 0 }?.reason == "rounds must be positive, got 0")
        #expect(try decoding { $0["minClients"] = -1 }?.code == .invalidParameter)
        #expect(try decoding { $0["clients"] = ["a", "a", "c"] }?.code == .invalidParameter)
        #expect(try decoding { $0["roundTimeout"] = -1 }?.code == .invalidParameter)
        #expect(
            try decoding { $0["strategy"] = ["krum": ["byzantine": Int.min, "keep": 0]] }?.code == .invalidParameter)
        #expect(try decoding { $0["strategy"] = ["median": [:] as [String: Any]] }?.code == .invalidParameter)
        for (key, value) in [
            ("noiseMultiplier", 0.0), ("clip", -1), ("delta", 0.9), ("clientsPerRound", 0), ("registeredClients", 4),
        ] {
            let error = try decoding { object in
                var privacy = object["privacy"] as! [String: Any]
                privacy[key] = value
                object["privacy"] = privacy
            }
            #expect(error?.code == .invalidParameter, "privacy.\(key) = \(value)")
        }
    }
}

@Suite("Cohorts: M of N clients a round, with or without DP")
struct CohortTests {
    static let clients = (0..<40).map { "c\($0)" }

    static func federation(
        seed: UInt64, clientsPerRound: Int?, minClients: Int = 40, privacy: ClientLevelPrivacy? = nil
    ) throws -> Federation {
        var random = SplitMix64(seed: seed)
        let plan = try FederationPlan(
            clients: clients, rounds: 3, minClients: minClients, roundTimeout: 30, strategy: .fedAvg,
            privacy: privacy, clientsPerRound: clientsPerRound)
        return try Federation(plan: plan, initialModel: [0], at: FederationTests.start, random: &random)
    }

    @Test("without DP each client is sampled with probability M/N; M = N (the default) is every client")
    func sampling() throws {
        let sizes = try (1...400).map { try Self.federation(seed: $0, clientsPerRound: 10).round?.cohort.count ?? -1 }
        let mean = Double(sizes.reduce(0, +)) / Double(sizes.count)
        // Binomial(40, 1/4): mean 10, standard error of the mean of 400 draws 0.14.
        #expect(abs(mean - 10) < 0.6, "mean cohort \(mean)")
        #expect(Set(sizes).count > 5)
        let everyone = try Self.federation(seed: 1, clientsPerRound: nil)
        #expect(everyone.plan.clientsPerRound == 40 && everyone.round?.cohort == Self.clients)
        #expect(try Self.federation(seed: 1, clientsPerRound: 40).round?.cohort == Self.clients)
    }

    @Test("a sampled round closes at min(K, cohort) updates, refuses clients outside the cohort, keeps the timeout")
    func closing() throws {
        var federation = try Self.federation(seed: 5, clientsPerRound: 4, minClients: 2)
        var random = SplitMix64(seed: 6)
        var round = try #require(federation.round)
        while round.cohort.count < 2 {
            _ = try federation.close(at: FederationTests.start, random: &random)
            round = try #require(federation.round)
        }
        let outsider = try #require(Self.clients.first { !round.cohort.contains($0) })
        let refusal = #expect(throws: FederationError.self) {
            try federation.submit(ClientUpdate(parameters: [1], exampleCount: 1), from: outsider, round: round.number)
        }
        #expect(refusal?.code == .notInCohort)
        try federation.submit(
            ClientUpdate(parameters: [2], exampleCount: 1), from: round.cohort[0], round: round.number)
        #expect(!federation.canClose(at: FederationTests.start.addingTimeInterval(29)))
        #expect(federation.canClose(at: FederationTests.start.addingTimeInterval(30)))
        try federation.submit(
            ClientUpdate(parameters: [4], exampleCount: 3), from: round.cohort[1], round: round.number)
        #expect(federation.canClose(at: FederationTests.start))
        let outcome = try federation.close(at: FederationTests.start, random: &random)
        #expect(outcome.model == [3.5] && outcome.participants == Array(round.cohort.prefix(2)))
    }

    @Test("an empty cohort closes at once: without DP the model is unchanged, with DP its noise is published")
    func emptyCohort() throws {
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, clientsPerRound: 1, registeredClients: 40)
        for dp in [nil, privacy] {
            let seed = try #require(
                (UInt64(1)...200).first {
                    (try? Self.federation(seed: $0, clientsPerRound: 1, privacy: dp))?.round?.cohort.isEmpty == true
                })
            var federation = try Self.federation(seed: seed, clientsPerRound: 1, privacy: dp)
            var random = SplitMix64(seed: 7)
            #expect(federation.canClose(at: FederationTests.start))
            let outcome = try federation.close(at: FederationTests.start, random: &random)
            #expect(outcome.participants.isEmpty && federation.completedRounds == 1)
            #expect(dp == nil ? outcome.model == [0] : outcome.model != [0], "\(outcome.model)")
            // No client was sampled, so none has spent anything.
            #expect(dp == nil ? outcome.privacy == nil : outcome.privacy?.steps == 0)
        }
    }

    @Test("M outside 1...N, or other than the privacy's m, is refused, constructed or decoded")
    func refusals() throws {
        for m in [0, 41] {
            let error = #expect(throws: FederationError.self) { try Self.federation(seed: 1, clientsPerRound: m) }
            #expect(error?.reason == "clients per round must be in 1...40 (the registered clients), got \(m)")
        }
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, clientsPerRound: 10, registeredClients: 40)
        #expect(try Self.federation(seed: 1, clientsPerRound: nil, privacy: privacy).plan.clientsPerRound == 10)
        let mismatch = #expect(throws: FederationError.self) {
            try Self.federation(seed: 1, clientsPerRound: 20, privacy: privacy)
        }
        #expect(mismatch?.reason == "the privacy accounting samples 10 clients per round, the plan 20")
        let plan = try Self.federation(seed: 1, clientsPerRound: 10).plan
        var object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(plan)) as? [String: Any])
        #expect(object["clientsPerRound"] as? Int == 10)
        object["clientsPerRound"] = 41
        let error = #expect(throws: FederationError.self) {
            try JSONDecoder().decode(FederationPlan.self, from: JSONSerialization.data(withJSONObject: object))
        }
        #expect(error?.reason == "clients per round must be in 1...40 (the registered clients), got 41")
    }
}
