import Federated
import Foundation
import Learning
import Privacy
import Testing

@Suite("DP-FedAvg with adaptive clipping: the noise split, the quantile it tracks, the accounting")
struct AdaptiveClippingTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func privacy(
        z: Double = 0.5, clip: Double = 1, clients: Int = 20, perRound: Int? = nil, quantile: Double = 0.5,
        learningRate: Double = 0.2, countNoise: Double? = nil
    ) throws -> ClientLevelPrivacy {
        let m = perRound ?? clients
        return try ClientLevelPrivacy(
            noiseMultiplier: z, clip: clip, delta: 1 / Double(clients), clientsPerRound: m,
            registeredClients: clients,
            adaptiveClipping: AdaptiveClipping(
                targetQuantile: quantile, learningRate: learningRate,
                countNoise: countNoise ?? AdaptiveClipping.defaultCountNoise(clientsPerRound: m)))
    }

    @Test("z_Δ = (z⁻² − (2σ_b)⁻²)^(−1/2); σ_b at or below z/2 is refused naming the count noise")
    func noiseSplit() throws {
        #expect(abs(try Self.privacy(z: 1, countNoise: 1).updateNoiseMultiplier - 1 / 0.75.squareRoot()) < 1e-15)
        #expect(abs(try Self.privacy(z: 0.5, countNoise: 4e5).updateNoiseMultiplier - 0.5) < 1e-12)
        // Flower's default σ_b = m/20 is 5 for 100 clients a round: z_Δ = (1 − 10⁻²)^(−1/2).
        let hundred = try Self.privacy(z: 1, clients: 1000, perRound: 100)
        #expect(hundred.adaptiveClipping?.countNoise == 5)
        #expect(abs(hundred.updateNoiseMultiplier - 1 / (1 - 1.0 / 100).squareRoot()) < 1e-15)
        #expect(abs(hundred.noiseStandardDeviation - hundred.updateNoiseMultiplier * 1 / 100) < 1e-15)
        for countNoise in [0.5, 0.25] {
            let error = #expect(throws: FederationError.self) { try Self.privacy(z: 1, countNoise: countNoise) }
            #expect(
                error?.reason
                    == "the count noise of adaptive clipping must exceed z/2 = 0.5 to leave the update any of the noise multiplier 1.0, got \(countNoise)"
            )
        }
    }

    @Test("parameters outside their domain are refused naming the parameter, also when decoded from the host")
    func refusals() throws {
        for (quantile, rate, noise, reason) in [
            (1.5, 0.2, 1.0, "the target quantile of adaptive clipping must be in [0, 1], got 1.5"),
            (-0.1, 0.2, 1.0, "the target quantile of adaptive clipping must be in [0, 1], got -0.1"),
            (0.5, 0.0, 1.0, "the clip learning rate of adaptive clipping must be positive and finite, got 0.0"),
            (0.5, 0.2, -1.0, "the count noise of adaptive clipping must be positive and finite, got -1.0"),
        ] {
            let error = #expect(throws: FederationError.self) {
                try AdaptiveClipping(targetQuantile: quantile, learningRate: rate, countNoise: noise)
            }
            #expect(error?.reason == reason)
        }
        let plan = try FederationPlan(
            clients: (0..<20).map { "c\($0)" }, rounds: 2, minClients: 20, roundTimeout: 60, strategy: .fedAvg,
            privacy: Self.privacy())
        let data = try JSONEncoder().encode(plan)
        #expect(try JSONDecoder().decode(FederationPlan.self, from: data) == plan)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        for (key, value, reason) in [
            ("targetQuantile", 2.0, "target quantile"), ("learningRate", -1, "clip learning rate"),
            ("countNoise", 0.2, "must exceed z/2 = 0.25"),
        ] {
            var changed = object
            var privacy = try #require(changed["privacy"] as? [String: Any])
            var adaptive = try #require(privacy["adaptiveClipping"] as? [String: Any])
            adaptive[key] = value
            privacy["adaptiveClipping"] = adaptive
            changed["privacy"] = privacy
            let bad = try JSONSerialization.data(withJSONObject: changed)
            let error = #expect(throws: FederationError.self) {
                try JSONDecoder().decode(FederationPlan.self, from: bad)
            }
            #expect(error?.reason.contains(reason) == true, "\(key): \(error?.reason ?? "")")
        }
    }

    @Test("the clip update: bits centred, divided by the expected cohort, geometric step towards the quantile")
    func knownAnswers() throws {
        let adaptive = try AdaptiveClipping(targetQuantile: 0.5, learningRate: 0.2, countNoise: 1)
        // Half of a full cohort unclipped: C stays.
        #expect(
            adaptive.nextClip(after: 2, releasedCount: 5 - 10 / 2, clientsPerRound: 10) == 2)
        // All unclipped: b̃ = 1, C shrinks by e^(−0.1).
        #expect(
            abs(
                adaptive.nextClip(after: 2, releasedCount: 10 - 10 / 2, clientsPerRound: 10)
                    - 2 * exp(-0.1)) < 1e-15)
        // 8 of an expected 10 took part, all unclipped: b̃ = (8 − 4)/10 + ½ = 0.9; one unit of noise adds σ_b/m.
        #expect(
            abs(
                adaptive.nextClip(after: 1, releasedCount: 8 - 8 / 2 + 1, clientsPerRound: 10)
                    - exp(-0.2 * (0.9 + 0.1 - 0.5))) < 1e-15)
    }

    @Test("the released count is Σ(bᵢ − ½) plus discrete Gaussian noise of standard deviation σ_b")
    func releasedCount() throws {
        let adaptive = try AdaptiveClipping(countNoise: 3)
        var random = SplitMix64(seed: 5)
        let draws = (0..<20_000).map { _ in adaptive.releasedCount(unclipped: 7, participants: 10, random: &random) }
        let mean = draws.reduce(0, +) / Double(draws.count)
        let deviation = (draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count)).squareRoot()
        // Σ(bᵢ − ½) = 7 − 5 = 2; the mean of 20,000 draws is within 5 standard errors of it.
        #expect(abs(mean - 2) < 5 * 3 / Double(draws.count).squareRoot(), "mean \(mean)")
        #expect(abs(deviation - 3) < 0.1, "deviation \(deviation)")
    }

    @Test("the clip converges to the target quantile of the update norms, from below and from above")
    func tracksQuantile() throws {
        // Norms 1, 2, …, 20 every round, the full cohort of 20, count noise σ_b/m = 0.05 from a seeded sampler.
        let norms = (1...20).map(Double.init)
        for (quantile, initial, range) in [(0.5, 1.0, 9.0...12.5), (0.2, 1.0, 3.0...5.5), (0.8, 100.0, 14.5...17.5)] {
            let adaptive = try AdaptiveClipping(targetQuantile: quantile, learningRate: 0.2, countNoise: 1)
            var random = SplitMix64(seed: 11)
            var clips = [initial]
            for _ in 0..<150 {
                let clip = clips[clips.count - 1]
                clips.append(
                    adaptive.nextClip(
                        after: clip,
                        releasedCount: adaptive.releasedCount(
                            unclipped: norms.filter { $0 <= clip }.count, participants: 20, random: &random),
                        clientsPerRound: 20))
            }
            let settled = clips.suffix(50).reduce(0, +) / 50
            #expect(range.contains(settled), "quantile \(quantile) from \(initial): settled at \(settled), \(clips)")
        }
    }

    @Test("a federation clips each round at the clip it opened with and moves it by the noised count")
    func federationRounds() throws {
        let clients = (0..<20).map { "c\($0)" }
        let plan = try FederationPlan(
            clients: clients, rounds: 5, minClients: 20, roundTimeout: 60, strategy: .fedAvg,
            privacy: Self.privacy(z: 0.5, clip: 1))
        var random = SplitMix64(seed: 11)
        var federation = try Federation(plan: plan, initialModel: [0, 0], at: Self.start, random: &random)
        #expect(federation.clip == 1)
        while let round = federation.round {
            let clip = try #require(round.clip)
            #expect(clip == federation.clip)
            for (index, client) in clients.enumerated() {
                // Norms 1, 2, …, 20 about the current model, in alternating directions.
                let norm = Float(index + 1) * (index % 2 == 0 ? 1 : -1)
                let update = [federation.globalModel[0] + norm, federation.globalModel[1]]
                try federation.submit(
                    ClientUpdate(parameters: update, exampleCount: 1), from: client, round: round.number)
            }
            _ = try federation.close(at: Self.start, random: &random)
            // log(C'/C) = −η(b̃ − γ) with b̃ the unclipped fraction plus noise of std σ_b/m = 0.05: within 4 stds.
            let unclipped = Double((1...20).filter { Double($0) <= clip }.count) / 20
            let step = log(try #require(federation.clip) / clip)
            #expect(abs(step + 0.2 * (unclipped - 0.5)) <= 0.2 * 4 * 0.05, "round \(round.number): clip \(clip)")
        }
        #expect(try #require(federation.clip) > 1.2)
    }

    @Test("the reported epsilon is the plain z mechanism's for the most-sampled client")
    func accounting() throws {
        let adaptive = try Self.privacy(z: 0.8, clients: 100, perRound: 20)
        let plain = try ClientLevelPrivacy(
            noiseMultiplier: 0.8, clip: 1, delta: 0.01, clientsPerRound: 20, registeredClients: 100)
        #expect(try adaptive.report(participations: 7) == plain.report(participations: 7))
        let clients = (0..<100).map { "c\($0)" }
        var random = SplitMix64(seed: 3)
        var federation = try Federation(
            plan: FederationPlan(
                clients: clients, rounds: 3, minClients: 100, roundTimeout: 1, strategy: .fedAvg, privacy: adaptive),
            initialModel: [0], at: Self.start, random: &random)
        var closed = 0
        while let round = federation.round {
            for client in round.cohort {
                try federation.submit(ClientUpdate(parameters: [2], exampleCount: 1), from: client, round: round.number)
            }
            closed += 1
            let outcome = try federation.close(at: Self.start.addingTimeInterval(2), random: &random)
            #expect(outcome.privacy == (try plain.report(participations: federation.participations.values.max() ?? 0)))
        }
        #expect(closed == 3)
    }
}
