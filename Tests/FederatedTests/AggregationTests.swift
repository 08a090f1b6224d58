import CloisterTestSupport
import Federated
import Foundation
import Testing

/// ../shared/reference/aggregation_vectors.json: Flower 1.41's aggregate functions on five clients (two layers each,
/// flattened here as the aggregator flattens models), the fifth an outlier.
struct FlowerVectors: Decodable {
    struct Client: Decodable {
        let layers: [[Double]]
        let num_examples: Int
    }
    struct DPFedAvg: Decodable {
        struct Noise: Decodable {
            let noise_multiplier: Double
            let clipping_norm: Double
            let sampled_clients: Int
            let std: Double
        }
        struct Clip: Decodable {
            let update: [[Double]]
            let norm: Double
            let clip_to: Double
            let clipped: [[Double]]
        }
        let server_noise_std: Noise
        let clip: Clip
    }
    let clients: [Client]
    let expected: [String: [[Double]]]
    let dp_fedavg: DPFedAvg

    static func load() throws -> FlowerVectors {
        try JSONDecoder().decode(
            Self.self, from: Data(contentsOf: TestEnvironment.vector("reference/aggregation_vectors.json")))
    }

    var updates: [ClientUpdate] {
        clients.map {
            ClientUpdate(parameters: $0.layers.flatMap { $0.map(Float.init) }, exampleCount: $0.num_examples)
        }
    }
}

@Suite("Aggregation strategies against Flower")
struct AggregationTests {
    static let vectors = try? FlowerVectors.load()

    @Test(
        "each strategy matches Flower's output",
        arguments: [
            ("fedavg_weighted_by_examples", AggregationStrategy.fedAvg),
            ("fedavg_weighted_by_examples", .fedProx(mu: 0.1)),
            ("coordinate_median", .median),
            ("trimmed_mean_beta_0.2", .trimmedMean(beta: 0.2)),
            ("krum_f1", .krum(byzantine: 1, keep: 0)),
            ("multikrum_f1_keep3_weighted", .krum(byzantine: 1, keep: 3)),
        ])
    func flower(name: String, strategy: AggregationStrategy) throws {
        let vectors = try #require(Self.vectors, "Tests/Vectors/reference/aggregation_vectors.json is unreadable")
        let expected = try #require(vectors.expected[name]).flatMap { $0 }
        let result = try strategy.aggregate(vectors.updates)
        #expect(result.count == expected.count)
        for (got, want) in zip(result, expected) {
            // Inputs are float32 (the wire format), so agreement is to float32 precision.
            #expect(abs(got - want) <= 1e-6 * max(1, abs(want)), "\(strategy.name): \(result) vs \(expected)")
        }
    }

    @Test("an even count's median is the mean of the middle two; trimming zero is the plain mean")
    func evenMedian() throws {
        let updates = [1, 4, 2, 10].map { ClientUpdate(parameters: [Float($0)], exampleCount: 1) }
        #expect(try AggregationStrategy.median.aggregate(updates) == [3])
        #expect(try AggregationStrategy.trimmedMean(beta: 0).aggregate(updates) == [4.25])
        #expect(try AggregationStrategy.trimmedMean(beta: 0.25).aggregate(updates) == [3])
    }

    @Test("robust strategies ignore one scaled outlier that moves FedAvg")
    func outlier() throws {
        var updates = (0..<9).map { ClientUpdate(parameters: [1 + Float($0) / 100, -1], exampleCount: 10) }
        updates.append(ClientUpdate(parameters: [-100, 100], exampleCount: 10))
        #expect(try AggregationStrategy.fedAvg.aggregate(updates)[0] < -5)
        for strategy in [AggregationStrategy.median, .trimmedMean(beta: 0.1), .krum(byzantine: 1, keep: 0)] {
            let result = try strategy.aggregate(updates)
            #expect(abs(result[0] - 1.04) < 0.05 && abs(result[1] + 1) < 1e-6, "\(strategy.name): \(result)")
        }
    }

    @Test("strategies parse from and print to their CLI spelling")
    func spelling() throws {
        for text in ["fedavg", "fedprox:0.5", "median", "trimmed-mean:0.1", "krum:2", "multi-krum:1:3"] {
            #expect(try AggregationStrategy(parsing: text).name == text)
        }
        #expect(try AggregationStrategy(parsing: "fedprox") == .fedProx(mu: 0.01))
        #expect(try AggregationStrategy(parsing: "trimmed-mean") == .trimmedMean(beta: 0.2))
        for bad in [
            "fedsgd", "trimmed-mean:0.5", "trimmed-mean:x", "krum:-1", "multi-krum:1", "median:3", "fedprox:-1",
        ] {
            #expect(throws: FederationError.self, "\(bad)") { try AggregationStrategy(parsing: bad) }
        }
    }

    @Test("example counts whose sum overflows Int weight the mean without trapping")
    func hugeExampleCounts() throws {
        let updates = [
            ClientUpdate(parameters: [1, 2], exampleCount: .max), ClientUpdate(parameters: [3, 4], exampleCount: .max),
        ]
        #expect(try AggregationStrategy.fedAvg.aggregate(updates) == [2, 3])
        #expect(try AggregationStrategy.krum(byzantine: 0, keep: 2).aggregate(updates) == [2, 3])
    }

    @Test("mismatched lengths and an empty round are refused")
    func refusals() {
        let updates = [
            ClientUpdate(parameters: [1, 2], exampleCount: 1), ClientUpdate(parameters: [1], exampleCount: 1),
        ]
        #expect(throws: FederationError.self) { try AggregationStrategy.median.aggregate(updates) }
        #expect(throws: FederationError.self) { try AggregationStrategy.fedAvg.aggregate([]) }
        #expect(throws: FederationError.self) {
            try AggregationStrategy.krum(byzantine: 0, keep: 3).aggregate(Array(updates.prefix(1)))
        }
    }
}
