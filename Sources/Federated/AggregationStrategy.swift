/// How a round's client updates become one vector, as Flower defines each rule (vectors in
/// ../shared/reference/aggregation_vectors.json):
/// - `fedAvg`: the average weighted by each client's example count (McMahan et al. 2017);
/// - `fedProx(mu:)`: FedAvg on the server; μ is the proximal term clients add to their local loss (Li et al. 2020);
/// - `median`: the coordinate-wise median (the mean of the middle two for an even count);
/// - `trimmedMean(beta:)`: per coordinate, drop the ⌊βn⌋ smallest and largest values and average the rest;
/// - `krum(byzantine: f, keep: m)`: score each update by the sum of squared distances to its n − f − 2 nearest
///   others; m = 0 returns the best-scored update (Krum, Blanchard et al. 2017), m > 0 the example-weighted average
///   of the m best (Multi-Krum).
public enum AggregationStrategy: Sendable, Hashable, Codable {
    case fedAvg
    case fedProx(mu: Double)
    case median
    case trimmedMean(beta: Double)
    case krum(byzantine: Int, keep: Int)

    /// Parses the CLI spelling: `fedavg`, `fedprox[:MU]` (default 0.01), `median`, `trimmed-mean[:BETA]` (default
    /// 0.2), `krum[:F]` (default 1), `multi-krum:F:M`.
    public init(parsing text: String) throws(FederationError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func number(_ index: Int, default value: Double) throws(FederationError) -> Double {
            guard index < parts.count else { return value }
            guard let parsed = Double(parts[index]), parsed.isFinite else {
                throw FederationError(.invalidParameter, "\"\(parts[index])\" in strategy \"\(text)\" is not a number")
            }
            return parsed
        }
        func count(_ index: Int, default value: Int) throws(FederationError) -> Int {
            guard index < parts.count else { return value }
            guard let parsed = Int(parts[index]) else {
                throw FederationError(.invalidParameter, "\"\(parts[index])\" in strategy \"\(text)\" is not a count")
            }
            return parsed
        }
        let arity: Int
        switch parts[0] {
        case "fedavg": (self, arity) = (.fedAvg, 1)
        case "fedprox": (self, arity) = (.fedProx(mu: try number(1, default: 0.01)), 2)
        case "median": (self, arity) = (.median, 1)
        case "trimmed-mean": (self, arity) = (.trimmedMean(beta: try number(1, default: 0.2)), 2)
        case "krum": (self, arity) = (.krum(byzantine: try count(1, default: 1), keep: 0), 2)
        case "multi-krum":
            guard parts.count == 3 else {
                throw FederationError(.invalidParameter, "multi-krum takes F:M (tolerated byzantine clients, kept)")
            }
            (self, arity) = (.krum(byzantine: try count(1, default: 1), keep: try count(2, default: 0)), 3)
        default:
            throw FederationError(
                .invalidParameter,
                "unknown strategy \"\(text)\" (fedavg, fedprox[:MU], median, trimmed-mean[:BETA], krum[:F], multi-krum:F:M)"
            )
        }
        guard parts.count <= arity else {
            throw FederationError(.invalidParameter, "strategy \"\(text)\" has too many parameters")
        }
        try validate()
    }

    /// The CLI spelling, which `init(parsing:)` reads back.
    public var name: String {
        switch self {
        case .fedAvg: "fedavg"
        case .fedProx(let mu): "fedprox:\(mu)"
        case .median: "median"
        case .trimmedMean(let beta): "trimmed-mean:\(beta)"
        case .krum(let f, 0): "krum:\(f)"
        case .krum(let f, let keep): "multi-krum:\(f):\(keep)"
        }
    }

    /// True for the rules that are an average over clients (the ones DP-FedAvg's sensitivity bound covers).
    public var isMean: Bool {
        switch self {
        case .fedAvg, .fedProx: true
        case .median, .trimmedMean, .krum: false
        }
    }

    /// The proximal weight μ clients use in local training (0 but for FedProx).
    public var proximalWeight: Double {
        if case .fedProx(let mu) = self { mu } else { 0 }
    }

    /// Refuses parameters outside each rule's domain.
    public func validate() throws(FederationError) {
        switch self {
        case .fedAvg, .median: return
        case .fedProx(let mu):
            guard mu >= 0, mu.isFinite else {
                throw FederationError(.invalidParameter, "FedProx's mu must be finite and at least 0, got \(mu)")
            }
        case .trimmedMean(let beta):
            guard beta >= 0, beta < 0.5 else {
                throw FederationError(.invalidParameter, "trimmed mean's beta must be in [0, 0.5), got \(beta)")
            }
        case .krum(let f, let keep):
            guard f >= 0, keep >= 0 else {
                throw FederationError(.invalidParameter, "Krum's byzantine count and kept count must be at least 0")
            }
        }
    }

    /// Aggregates `updates` (all of one length) into one vector.
    public func aggregate(_ updates: [ClientUpdate]) throws(FederationError) -> [Double] {
        guard let first = updates.first else {
            throw FederationError(.roundNotReady, "there are no updates to aggregate")
        }
        let width = first.parameters.count
        guard updates.allSatisfy({ $0.parameters.count == width }) else {
            throw FederationError(.wrongShape, "updates of different lengths cannot be aggregated")
        }
        switch self {
        case .fedAvg, .fedProx:
            return Self.weightedMean(updates)
        case .median:
            return Self.coordinatewise(updates) { sorted in
                let middle = sorted.count / 2
                return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
            }
        case .trimmedMean(let beta):
            let cut = Int(beta * Double(updates.count))
            return Self.coordinatewise(updates) { sorted in
                let kept = sorted[cut..<(sorted.count - cut)]
                return kept.reduce(0, +) / Double(kept.count)
            }
        case .krum(let f, let keep):
            guard keep <= updates.count else {
                throw FederationError(
                    .roundNotReady, "Multi-Krum keeps \(keep) updates but the round has \(updates.count)")
            }
            let ranked = Self.krumRanking(updates, byzantine: f)
            if keep == 0 { return updates[ranked[0]].parameters.map(Double.init) }
            return Self.weightedMean(ranked.prefix(keep).map { updates[$0] })
        }
    }

    private static func weightedMean(_ updates: [ClientUpdate]) -> [Double] {
        var sum = [Double](repeating: 0, count: updates[0].parameters.count)
        // Summed as doubles: example counts are the clients' claims, and their Int sum could overflow.
        let total = updates.reduce(0.0) { $0 + Double($1.exampleCount) }
        for update in updates {
            let weight = Double(update.exampleCount) / total
            sum.withUnsafeMutableBufferPointer { sum in
                update.parameters.withUnsafeBufferPointer { values in
                    for index in 0..<sum.count { sum[index] += weight * Double(values[index]) }
                }
            }
        }
        return sum
    }

    /// Applies `statistic` to each coordinate's values across the updates, sorted ascending.
    private static func coordinatewise(_ updates: [ClientUpdate], _ statistic: ([Double]) -> Double) -> [Double] {
        var column = [Double](repeating: 0, count: updates.count)
        return (0..<updates[0].parameters.count).map { index in
            for client in updates.indices { column[client] = Double(updates[client].parameters[index]) }
            column.sort()
            return statistic(column)
        }
    }

    /// The updates' indices, best Krum score first (ties by index).
    private static func krumRanking(_ updates: [ClientUpdate], byzantine f: Int) -> [Int] {
        let n = updates.count
        var distances = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for i in 0..<n {
            for j in (i + 1)..<max(n, i + 1) {
                let distance = updates[i].parameters.withUnsafeBufferPointer { a in
                    updates[j].parameters.withUnsafeBufferPointer { b in
                        var sum = 0.0
                        for index in 0..<a.count {
                            let difference = Double(a[index]) - Double(b[index])
                            sum += difference * difference
                        }
                        return sum
                    }
                }
                distances[i][j] = distance
                distances[j][i] = distance
            }
        }
        let neighbours = max(1, n - f - 2)
        let scores = (0..<n).map { i in
            (0..<n).filter { $0 != i }.map { distances[i][$0] }.sorted().prefix(neighbours).reduce(0, +)
        }
        return (0..<n).sorted { (scores[$0], $0) < (scores[$1], $1) }
    }
}
