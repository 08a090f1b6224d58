import CloisterTestSupport
import Federated
import Foundation
import Learning
import Testing

/// Whole federations on breast_cancer (80/20 split, features scaled from the public schema), run through the pure
/// core: each client trains locally from the published model, the federation aggregates.
@Suite("Federated training on breast_cancer: FedAvg utility, robustness to a malicious client")
struct RobustnessTests {
    static func data() throws -> (train: Dataset, test: Dataset) {
        let root = TestEnvironment.packageRoot.appendingPathComponent("Datasets")
        let raw = try Dataset(csvAt: root.appendingPathComponent("breast_cancer.csv").path, label: "label")
        let schema = try FeatureSchema(contentsOf: root.appendingPathComponent("breast_cancer.schema.json").path)
        return try schema.apply(to: raw).split(testFraction: 0.2, seed: 0)
    }

    /// Test accuracy after each round. The first `malicious` clients send the global model minus 20 times their
    /// honest update (a scaled, sign-flipped update).
    static func run(
        clients count: Int, rounds: Int, strategy: AggregationStrategy, malicious: Int = 0,
        partition: DataPartition = .iid
    ) throws -> [Double] {
        let (train, test) = try data()
        let shares = try partition.split(train, clients: count, seed: 7)
        let names = (0..<count).map { "client-\($0)" }
        var random = SplitMix64(seed: 8)
        var global = try Model(kind: .logistic, featureCount: train.featureCount, classCount: 2)
        var federation = try Federation(
            plan: FederationPlan(
                clients: names, rounds: rounds, minClients: count, roundTimeout: 60, strategy: strategy, privacy: nil),
            initialModel: global.parameters.map(Float.init), at: Date(), random: &random)
        let local = try LocalTraining(epochs: 2, batchSize: 16, learningRate: 2)
        var accuracies: [Double] = []
        while let round = federation.round, accuracies.count < rounds {
            for (index, name) in names.enumerated() {
                let trained = local.train(global, on: shares[index], seed: UInt64(round.number * 100 + index))
                let parameters =
                    index < malicious
                    ? zip(global.parameters, trained.parameters).map { g, t in Float(g - 20 * (t - g)) }
                    : trained.parameters.map(Float.init)
                try federation.submit(
                    ClientUpdate(parameters: parameters, exampleCount: shares[index].count), from: name,
                    round: round.number)
            }
            let outcome = try federation.close(at: Date(), random: &random)
            global.parameters = outcome.model.map(Double.init)
            accuracies.append(global.accuracy(on: test))
        }
        return accuracies
    }

    @Test("non-private FedAvg with 5 IID clients reaches 0.95 test accuracy within 20 rounds")
    func fedAvgUtility() throws {
        let accuracies = try Self.run(clients: 5, rounds: 20, strategy: .fedAvg)
        print("FedAvg, 5 IID clients, accuracy by round: \(accuracies)")
        #expect(accuracies.contains { $0 >= 0.95 })
    }

    @Test("with 1 of 10 clients malicious, median and Multi-Krum stay at 0.93 or above while FedAvg degrades")
    func malicious() throws {
        let honest = try Self.run(clients: 10, rounds: 20, strategy: .fedAvg)
        let fedAvg = try Self.run(clients: 10, rounds: 20, strategy: .fedAvg, malicious: 1)
        let median = try Self.run(clients: 10, rounds: 20, strategy: .median, malicious: 1)
        let krum = try Self.run(clients: 10, rounds: 20, strategy: .krum(byzantine: 1, keep: 0), malicious: 1)
        let multiKrum = try Self.run(clients: 10, rounds: 20, strategy: .krum(byzantine: 1, keep: 5), malicious: 1)
        print(
            "final accuracy, 1 of 10 malicious: FedAvg \(fedAvg.last!) (honest \(honest.last!)), median \(median.last!), Krum \(krum.last!), Multi-Krum (keep 5) \(multiKrum.last!)"
        )
        #expect(try #require(median.last) >= 0.93)
        #expect(try #require(multiKrum.last) >= 0.93)
        // Krum keeps one client's model (a tenth of the data), so it trails the others but still resists the attack.
        #expect(try #require(krum.last) >= 0.9)
        let (attacked, clean) = (try #require(fedAvg.last), try #require(honest.last))
        #expect(attacked < clean - 0.05)
    }

    @Test("a Dirichlet split gives every client data and skews labels; IID shares are near-equal")
    func partitions() throws {
        let (train, _) = try Self.data()
        let iid = try DataPartition.iid.split(train, clients: 5, seed: 1)
        #expect(iid.map(\.count).reduce(0, +) == train.count && iid.map(\.count).max()! - iid.map(\.count).min()! <= 1)
        let skewed = try DataPartition.dirichlet(alpha: 0.3).split(train, clients: 5, seed: 1)
        #expect(skewed.map(\.count).reduce(0, +) == train.count && skewed.allSatisfy { $0.count > 0 })
        let benignShares = skewed.map { Double($0.labels.reduce(0, +)) / Double($0.count) }
        #expect(benignShares.max()! - benignShares.min()! > 0.3, "\(benignShares)")
        #expect(try DataPartition(parsing: "dirichlet:0.5") == .dirichlet(alpha: 0.5))
        #expect(throws: FederationError.self) { try DataPartition(parsing: "dirichlet:0") }
        #expect(throws: FederationError.self) { try DataPartition.iid.split(train, clients: 0, seed: 1) }
    }
}
