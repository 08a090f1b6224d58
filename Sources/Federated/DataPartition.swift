import FoundationEssentials
import Glibc
public import Learning

/// How `fl simulate` deals a dataset out to its clients: `iid` shuffles and deals near-equal shares; `dirichlet(α)`
/// gives each class to the clients in proportions drawn from Dirichlet(α, …, α), the usual label-skewed split of
/// federated benchmarks (small α: each client sees few classes); `sample(k)` gives each client k distinct examples
/// drawn uniformly, independently of the other clients (shares overlap), for federations of more clients than
/// examples.
public enum DataPartition: Sendable, Hashable {
    case iid
    case dirichlet(alpha: Double)
    case sample(examplesPerClient: Int)

    /// Parses `iid`, `dirichlet:A` or `sample:K`.
    public init(parsing text: String) throws(FederationError) {
        if text == "iid" {
            self = .iid
        } else if text.hasPrefix("sample:"), let count = Int(text.dropFirst("sample:".count)), count > 0 {
            self = .sample(examplesPerClient: count)
        } else if text.hasPrefix("dirichlet:"), let alpha = Double(text.dropFirst("dirichlet:".count)), alpha > 0,
            alpha.isFinite
        {
            self = .dirichlet(alpha: alpha)
        } else {
            throw FederationError(
                .invalidParameter,
                "unknown partition \"\(text)\" (iid, dirichlet:A with A > 0, or sample:K with K > 0 examples per client)"
            )
        }
    }

    public var name: String {
        switch self {
        case .iid: "iid"
        case .dirichlet(let alpha): "dirichlet:\(alpha)"
        case .sample(let count): "sample:\(count)"
        }
    }

    /// `data` split among `clients`, every share non-empty; seeded. A Dirichlet draw that leaves a client empty is
    /// redrawn (at most 100 times).
    public func split(_ data: Dataset, clients: Int, seed: UInt64) throws(FederationError) -> [Dataset] {
        var generator = SplitMix64(seed: seed)
        var order = Array(0..<data.count)
        if case .sample(let count) = self {
            guard clients > 0, count <= data.count else {
                throw FederationError(
                    .invalidParameter,
                    "cannot give \(count) distinct examples of \(data.count) to each of \(clients) clients")
            }
        } else {
            guard clients > 0, clients <= data.count else {
                throw FederationError(
                    .invalidParameter,
                    "cannot split \(data.count) examples among \(clients) clients (sample:K gives each client K examples)"
                )
            }
            order.shuffle(using: &generator)
        }
        switch self {
        case .iid:
            return (0..<clients).map { client in
                data.subset(stride(from: client, to: order.count, by: clients).map { order[$0] })
            }
        case .sample(let count):
            // A partial Fisher–Yates shuffle per client: its first `count` positions are a uniform draw without
            // replacement whatever order the previous client left.
            return (0..<clients).map { _ in
                for position in 0..<count {
                    order.swapAt(position, Int.random(in: position..<order.count, using: &generator))
                }
                return data.subset(Array(order[0..<count]))
            }
        case .dirichlet(let alpha):
            var gaussian = GaussianSampler(source: generator)
            for _ in 0..<100 {
                var shares = [[Int]](repeating: [], count: clients)
                for label in 0..<data.classCount {
                    let members = order.filter { data.labels[$0] == label }
                    let weights = (0..<clients).map { _ in Self.gamma(alpha, &gaussian) }
                    let total = weights.reduce(0, +)
                    var start = 0
                    var cumulative = 0.0
                    for client in 0..<clients {
                        cumulative += weights[client] / total
                        let end =
                            client == clients - 1 ? members.count : Int((cumulative * Double(members.count)).rounded())
                        shares[client] += members[start..<max(start, end)]
                        start = max(start, end)
                    }
                }
                if shares.allSatisfy({ !$0.isEmpty }) { return shares.map { data.subset($0) } }
            }
            throw FederationError(
                .invalidParameter,
                "a Dirichlet(\(alpha)) split of \(data.count) examples left a client empty 100 times; use a larger alpha or fewer clients"
            )
        }
    }

    /// A Gamma(shape, 1) draw: Marsaglia and Tsang (2000) for shape ≥ 1, boosted by U^(1/shape) below 1.
    private static func gamma<Source>(_ shape: Double, _ random: inout GaussianSampler<Source>) -> Double {
        if shape < 1 {
            return gamma(shape + 1, &random) * Glibc.pow(1 - random.uniform(), 1 / shape)
        }
        let d = shape - 1.0 / 3
        let c = 1 / (9 * d).squareRoot()
        while true {
            let z = random.next()
            let v = (1 + c * z) * (1 + c * z) * (1 + c * z)
            guard v > 0 else { continue }
            let u = 1 - random.uniform()
            if Glibc.log(u) < 0.5 * z * z + d - d * v + d * Glibc.log(v) { return d * v }
        }
    }
}
