import Dispatch
import Federated
import Foundation
import Learning
import Privacy
import Testing

@Suite("Batch admission: the same refusals and sums as one submission after another")
struct BatchAdmissionTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// Every index at once on a dispatch pool, as the enclave spreads a batch over its cores.
    static let everyCore: Federation.ConcurrentLoop = { count, body in
        DispatchQueue.concurrentPerform(iterations: count, execute: body)
    }

    static func federation(
        strategy: AggregationStrategy, privacy: ClientLevelPrivacy?, width: Int, rounds: Int = 3
    ) throws -> Federation {
        var random = SplitMix64(seed: 7)
        let plan = try FederationPlan(
            clients: (0..<12).map { "c\($0)" }, rounds: rounds, minClients: 12, roundTimeout: 30, strategy: strategy,
            privacy: privacy)
        let initial = (0..<width).map { Float($0 % 7) * 0.25 - 0.5 }
        return try Federation(plan: plan, initialModel: initial, at: start, random: &random)
    }

    /// A batch of `count` random submissions, some of them wrong in one way each (unknown, stale, duplicate, wrong
    /// shape, NaN, no examples).
    static func batch(_ count: Int, width: Int, random: inout SplitMix64) -> [Federation.Submission] {
        (0..<count).map { _ in
            let client = "c\(Int.random(in: 0..<12, using: &random))"
            var parameters = (0..<width).map { _ in Float.random(in: -3...3, using: &random) }
            var (name, round, examples) = (client, 1, Int.random(in: 1...50, using: &random))
            switch Int.random(in: 0..<10, using: &random) {
            case 0: name = "mallory"
            case 1: round = 2
            case 2: parameters.append(1)
            case 3: parameters[Int.random(in: 0..<width, using: &random)] = .nan
            case 4: examples = 0
            default: break
            }
            return Federation.Submission(
                ClientUpdate(parameters: parameters, exampleCount: examples), from: name, round: round)
        }
    }

    @Test(
        "FedAvg, DP-FedAvg and the median: a batch on every core refuses and folds exactly as submissions one by one",
        arguments: [(AggregationStrategy.fedAvg, false), (.fedAvg, true), (.median, false)])
    func matchesOneByOne(strategy: AggregationStrategy, private: Bool) throws {
        let privacy =
            `private`
            ? try ClientLevelPrivacy(
                // Near the median norm of these updates (about 670): some are clipped and some are not.
                noiseMultiplier: 1, clip: 670, delta: 1e-5, clientsPerRound: 12, registeredClients: 12) : nil
        // Wider than one of the fold's coordinate ranges (65,536), so a batch folds on several threads.
        let width = 150_001
        var generator = SplitMix64(seed: 3)
        for trial in 0..<4 {
            var together = try Self.federation(strategy: strategy, privacy: privacy, width: width)
            var oneByOne = together
            let batch = Self.batch(10, width: width, random: &generator)
            let refusals = together.submit(batch, concurrently: Self.everyCore)
            for (submission, refusal) in zip(batch, refusals) {
                do {
                    try oneByOne.submit(submission.update, from: submission.client, round: submission.round)
                    #expect(refusal == nil, "trial \(trial): \(refusal?.reason ?? "")")
                } catch {
                    #expect(refusal?.code == error.code && refusal?.reason == error.reason, "trial \(trial)")
                }
            }
            #expect(refusals.contains { $0 == nil } && refusals.contains { $0 != nil }, "trial \(trial)")
            #expect(together.round == oneByOne.round, "trial \(trial): the rounds differ")
            // Both sides share the fold, so FedAvg is also checked against a mean written here: Σ nᵢθᵢ / Σ nᵢ over
            // the admitted updates in order, in double precision.
            guard strategy == .fedAvg, !`private` else { continue }
            let admitted = zip(batch, refusals).filter { $0.1 == nil }.map(\.0.update)
            var sum = [Double](repeating: 0, count: width)
            var weight = 0.0
            for update in admitted {
                for index in 0..<width { sum[index] += Double(update.exampleCount) * Double(update.parameters[index]) }
                weight += Double(update.exampleCount)
            }
            var random = SplitMix64(seed: 1)
            let model = try together.close(at: Self.start.addingTimeInterval(60), random: &random).model
            #expect(model == sum.map { Float($0 / weight) }, "trial \(trial): the mean differs")
        }
    }

    @Test("a second batch folds onto the first; a finished federation refuses a whole batch")
    func successiveBatches() throws {
        var federation = try Self.federation(strategy: .fedAvg, privacy: nil, width: 3, rounds: 1)
        let first = federation.submit(
            [Federation.Submission(ClientUpdate(parameters: [1, 2, 3], exampleCount: 1), from: "c0", round: 1)],
            concurrently: Self.everyCore)
        let second = federation.submit(
            (1..<12).map {
                Federation.Submission(ClientUpdate(parameters: [3, 2, 1], exampleCount: 3), from: "c\($0)", round: 1)
            },
            concurrently: Self.everyCore)
        #expect(first.count == 1 && first.allSatisfy { $0 == nil } && second.allSatisfy { $0 == nil })
        var random = SplitMix64(seed: 1)
        let outcome = try federation.close(at: Self.start, random: &random)
        // (1·[1,2,3] + 33·[3,2,1]) / 34
        #expect(outcome.model == [Float(100.0 / 34), 2, Float(36.0 / 34)])
        let refused = federation.submit(
            [Federation.Submission(ClientUpdate(parameters: [1, 2, 3], exampleCount: 1), from: "c0", round: 2)],
            concurrently: Self.everyCore)
        #expect(refused.map { $0?.code } == [.roundNotReady])
    }

    @Test("the largest finite values and subnormals are admitted; an infinity or a NaN anywhere is refused, by index")
    func finiteness() throws {
        let width = 1_000
        for (index, value) in [(0, Float.infinity), (width - 1, -.infinity), (517, .nan), (3, -.signalingNaN)] {
            var federation = try Self.federation(strategy: .fedAvg, privacy: nil, width: width)
            var parameters = [Float](repeating: .greatestFiniteMagnitude, count: width)
            parameters[1] = -.greatestFiniteMagnitude
            parameters[2] = .leastNonzeroMagnitude
            let finite = federation.submit(
                [Federation.Submission(ClientUpdate(parameters: parameters, exampleCount: 1), from: "c0", round: 1)],
                concurrently: Self.everyCore)
            #expect(finite.count == 1 && finite[0] == nil)
            parameters[index] = value
            let refused = federation.submit(
                [Federation.Submission(ClientUpdate(parameters: parameters, exampleCount: 1), from: "c1", round: 1)],
                concurrently: Self.everyCore)
            #expect(refused.first??.code == .nonFinite)
            #expect(refused.first??.reason.hasSuffix("at parameter \(index)") == true)
        }
    }
}
