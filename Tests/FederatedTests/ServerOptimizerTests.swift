import CloisterTestSupport
import Federated
import Foundation
import Learning
import Testing

/// Tests/Vectors/reference/optimizer_vectors.json: Flower 1.42's FedAvgM, FedAdam, FedYogi and FedAdagrad strategy
/// classes driven for four rounds on fixed results of three clients (two layers each, flattened here as the
/// aggregator flattens models), written by make_optimizer_vectors.py beside it.
struct OptimizerVectors: Decodable {
    struct Client: Decodable {
        let layers: [[[Double]]]
        let num_examples: Int

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            layers = try container.decode([Layer].self, forKey: .layers).map(\.values)
            num_examples = try container.decode(Int.self, forKey: .num_examples)
        }

        enum CodingKeys: String, CodingKey {
            case layers, num_examples
        }
    }
    struct Case: Decodable, CustomTestStringConvertible {
        let spec: String
        let flwr: String
        let expected: [[Layer]]
        var testDescription: String { "\(spec) (\(flwr))" }
    }
    /// A layer of any rank, flattened in row-major order.
    struct Layer: Decodable {
        let values: [[Double]]

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let matrix = try? container.decode([[Double]].self) {
                values = matrix
            } else {
                values = [try container.decode([Double].self)]
            }
        }
    }
    let initial: [Layer]
    let rounds: [[Client]]
    let cases: [Case]

    static let loaded: OptimizerVectors? = try? JSONDecoder().decode(
        Self.self, from: Data(contentsOf: TestEnvironment.vector("reference/optimizer_vectors.json")))

    static func flat(_ layers: [Layer]) -> [Double] { layers.flatMap { $0.values.flatMap { $0 } } }

    /// Round `index`'s client results as the aggregator receives them (every value is a float32).
    func updates(_ index: Int) -> [ClientUpdate] {
        rounds[index].map { client in
            ClientUpdate(
                parameters: client.layers.flatMap { $0.flatMap { $0.map(Float.init) } },
                exampleCount: client.num_examples)
        }
    }
}

@Suite("Server optimizers against Flower: FedAvgM, FedAdam, FedYogi, FedAdagrad")
struct ServerOptimizerTests {
    static let cases = OptimizerVectors.loaded?.cases ?? []

    static func close(_ got: [Double], _ want: [Double], relative tolerance: Double) -> Bool {
        got.count == want.count && zip(got, want).allSatisfy { abs($0 - $1) <= tolerance * max(1, abs($1)) }
    }

    @Test("the reference file is read (else no case below would run)")
    func present() {
        #expect(Self.cases.count == 10, "Tests/Vectors/reference/optimizer_vectors.json is missing or unreadable")
    }

    @Test("each round's global model matches Flower's to 1e-9 relative", arguments: cases)
    func flower(_ reference: OptimizerVectors.Case) throws {
        let vectors = try #require(OptimizerVectors.loaded)
        var state = ServerOptimizerState(try ServerOptimizer(parsing: reference.spec))
        var global = OptimizerVectors.flat(vectors.initial)
        for (index, expected) in reference.expected.enumerated() {
            let aggregate = try AggregationStrategy.fedAvg.aggregate(vectors.updates(index))
            global = state.step(aggregate: aggregate, global: global, round: index + 1)
            let want = OptimizerVectors.flat(expected)
            #expect(Self.close(global, want, relative: 1e-9), "round \(index + 1): \(global) vs \(want)")
        }
        #expect(state.steps == reference.expected.count)
        #expect(state.summary == ServerOptimizerSummary(name: state.optimizer.name, steps: 4))
    }

    @Test("through a federation (float32 models between rounds) every round matches Flower's to 1e-5", arguments: cases)
    func federation(_ reference: OptimizerVectors.Case) throws {
        let vectors = try #require(OptimizerVectors.loaded)
        let clients = ["a", "b", "c"]
        var random = SplitMix64(seed: 1)
        let plan = try FederationPlan(
            clients: clients, rounds: reference.expected.count, minClients: 3, roundTimeout: 60, strategy: .fedAvg,
            privacy: nil, serverOptimizer: ServerOptimizer(parsing: reference.spec))
        var federation = try Federation(
            plan: plan, initialModel: OptimizerVectors.flat(vectors.initial).map(Float.init), at: Date(),
            random: &random)
        for (index, expected) in reference.expected.enumerated() {
            for (client, update) in zip(clients, vectors.updates(index)) {
                try federation.submit(update, from: client, round: index + 1)
            }
            let published = try federation.close(at: Date(), random: &random).model.map(Double.init)
            let want = OptimizerVectors.flat(expected)
            #expect(Self.close(published, want, relative: 1e-5), "round \(index + 1): \(published) vs \(want)")
        }
        #expect(federation.optimizer?.steps == reference.expected.count)
    }

    @Test("spellings parse with Flower's defaults and print back with every parameter")
    func spelling() throws {
        #expect(try ServerOptimizer(parsing: "fedavgm") == .fedAvgM(learningRate: 1, momentum: 0))
        #expect(try ServerOptimizer(parsing: "fedavgm:0.5") == .fedAvgM(learningRate: 0.5, momentum: 0))
        #expect(try ServerOptimizer(parsing: "fedadam") == .fedAdam(eta: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-9))
        #expect(
            try ServerOptimizer(parsing: "fedadam:0.2:0.5") == .fedAdam(eta: 0.2, beta1: 0.5, beta2: 0.99, tau: 1e-9))
        #expect(try ServerOptimizer(parsing: "fedyogi") == .fedYogi(eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3))
        #expect(try ServerOptimizer(parsing: "fedadagrad") == .fedAdagrad(eta: 0.1, tau: 1e-9))
        #expect(try ServerOptimizer(parsing: "fedadagrad:0.3:0.01") == .fedAdagrad(eta: 0.3, tau: 0.01))
        for optimizer in [
            ServerOptimizer.fedAvgM(learningRate: 0.7, momentum: 0.5),
            .fedAdam(eta: 0.05, beta1: 0.8, beta2: 0.95, tau: 1e-3),
            .fedYogi(eta: 0.1, beta1: 0, beta2: 0.9, tau: 0.01), .fedAdagrad(eta: 0.3, tau: 1e-9),
        ] {
            #expect(try ServerOptimizer(parsing: optimizer.name) == optimizer)
        }
    }

    @Test("bad spellings are refused, each naming the parameter or the spelling")
    func refusals() {
        for (text, reason) in [
            ("fedsgd", "unknown server optimizer \"fedsgd\""),
            ("fedavgm:x", "LR \"x\" in server optimizer \"fedavgm:x\" is not a number"),
            ("fedavgm:0", "the server learning rate of FedAvgM must be positive and finite, got 0.0"),
            ("fedavgm:1:1", "the server momentum of FedAvgM must be in [0, 1), got 1.0"),
            ("fedavgm:1:-0.1", "the server momentum of FedAvgM must be in [0, 1), got -0.1"),
            ("fedavgm:1:0:3", "server optimizer \"fedavgm:1:0:3\" has too many parameters (fedavgm takes LR:MOMENTUM)"),
            ("fedadam:-0.1", "eta of FedAdam must be positive and finite, got -0.1"),
            ("fedadam:0.1:1.5", "beta1 of FedAdam must be in [0, 1), got 1.5"),
            ("fedadam:0.1:0.9:1", "beta2 of FedAdam must be in [0, 1), got 1.0"),
            (
                "fedadam:0.1:0.9:0.99:inf",
                "TAU \"inf\" in server optimizer \"fedadam:0.1:0.9:0.99:inf\" is not a number"
            ),
            ("fedyogi:0.01:0.9:0.99:0", "tau of FedYogi must be positive and finite, got 0.0"),
            ("fedyogi:0.01:nan", "BETA1 \"nan\" in server optimizer \"fedyogi:0.01:nan\" is not a number"),
            ("fedadagrad:0", "eta of FedAdagrad must be positive and finite, got 0.0"),
            ("fedadagrad:0.1:-1", "tau of FedAdagrad must be positive and finite, got -1.0"),
            ("fedadagrad:0.1:0.1:0.1", "has too many parameters (fedadagrad takes ETA:TAU)"),
        ] {
            let error = #expect(throws: FederationError.self, "\(text)") { try ServerOptimizer(parsing: text) }
            #expect(error?.code == .invalidParameter)
            #expect(error?.reason.contains(reason) == true, "\(text): \(error?.reason ?? "")")
        }
    }

    @Test("a plan decoded from the host refuses an optimizer outside its domain, naming the parameter")
    func decodedPlans() throws {
        let plan = try FederationPlan(
            clients: ["a", "b"], rounds: 2, minClients: 2, roundTimeout: 60, strategy: .median, privacy: nil,
            serverOptimizer: .fedYogi(eta: 0.01, beta1: 0.9, beta2: 0.99, tau: 1e-3))
        let data = try JSONEncoder().encode(plan)
        #expect(try JSONDecoder().decode(FederationPlan.self, from: data) == plan)
        var object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(object["serverOptimizer"] as? String == "fedyogi:0.01:0.9:0.99:0.001")
        for (spelling, reason) in [
            ("fedyogi:0.01:0.9:2:0.001", "beta2 of FedYogi must be in [0, 1), got 2.0"),
            ("fedavgm:-1", "the server learning rate of FedAvgM must be positive"),
            ("adam", "unknown server optimizer"),
        ] {
            object["serverOptimizer"] = spelling
            let bad = try JSONSerialization.data(withJSONObject: object)
            let error = #expect(throws: FederationError.self) {
                try JSONDecoder().decode(FederationPlan.self, from: bad)
            }
            #expect(error?.reason.contains(reason) == true, "\(spelling): \(error?.reason ?? "")")
        }
    }

    @Test("the optimizer steps on a robust strategy's aggregate; an empty cohort leaves model and moments alone")
    func robustAndEmpty() throws {
        let clients = (0..<40).map { "c\($0)" }
        // The first seed whose round-1 cohort (each client with probability 1/40) is empty.
        let seed = try #require(
            (UInt64(1)...200).first { seed in
                var random = SplitMix64(seed: seed)
                let plan = try? FederationPlan(
                    clients: clients, rounds: 3, minClients: 1, roundTimeout: 60, strategy: .median, privacy: nil,
                    clientsPerRound: 1, serverOptimizer: .fedAvgM(learningRate: 0.5, momentum: 0))
                return plan.flatMap { try? Federation(plan: $0, initialModel: [1, 1], at: Date(), random: &random) }?
                    .round?.cohort.isEmpty == true
            })
        var random = SplitMix64(seed: seed)
        let plan = try FederationPlan(
            clients: clients, rounds: 3, minClients: 1, roundTimeout: 60, strategy: .median, privacy: nil,
            clientsPerRound: 1, serverOptimizer: .fedAvgM(learningRate: 0.5, momentum: 0))
        var federation = try Federation(plan: plan, initialModel: [1, 1], at: Date(), random: &random)
        #expect(federation.canClose(at: Date.distantPast))
        let empty = try federation.close(at: Date(), random: &random)
        #expect(empty.model == [1, 1] && empty.participants.isEmpty && federation.optimizer?.steps == 0)
        while let round = federation.round, round.cohort.isEmpty {
            _ = try federation.close(at: Date(), random: &random)
        }
        let round = try #require(federation.round)
        try federation.submit(
            ClientUpdate(parameters: [5, -3], exampleCount: 1), from: round.cohort[0], round: round.number)
        #expect(try federation.close(at: Date(), random: &random).model == [3, -1])
        #expect(federation.optimizer?.steps == 1)
    }
}
