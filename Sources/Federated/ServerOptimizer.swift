import Glibc

/// How the aggregator moves the global model towards a round's aggregate, as Flower defines each server optimizer
/// (Reddi et al. 2021, "Adaptive Federated Optimization"; Hsu et al. 2019 for FedAvgM; vectors in
/// Tests/Vectors/reference/optimizer_vectors.json). The aggregate is whatever the round produced (the strategy's
/// FedAvg mean, median, Krum…, or DP-FedAvg's noised model) and Δ its difference from the global model θ:
/// - `fedAvgM`: heavy-ball SGD on the pseudo-gradient −Δ: m ← μm + (−Δ), θ ← θ − ηm (m is −Δ in round 1);
/// - `fedAdam`: m ← β₁m + (1 − β₁)Δ, v ← β₂v + (1 − β₂)Δ², θ ← θ + η_t m/(√v + τ) with Adam's bias-corrected
///   η_t = η√(1 − β₂^(t+1))/(1 − β₁^(t+1)) for round t (Flower's exponent);
/// - `fedYogi`: m as FedAdam, v ← v − (1 − β₂)Δ² sign(v − Δ²), θ ← θ + ηm/(√v + τ);
/// - `fedAdagrad`: v ← v + Δ², θ ← θ + ηΔ/(√v + τ).
/// m and v start at zero. Flower's client learning rate η_l is not the server's: clients take theirs from `--lr`.
public enum ServerOptimizer: Sendable, Hashable, Codable {
    case fedAvgM(learningRate: Double, momentum: Double)
    case fedAdam(eta: Double, beta1: Double, beta2: Double, tau: Double)
    case fedYogi(eta: Double, beta1: Double, beta2: Double, tau: Double)
    case fedAdagrad(eta: Double, tau: Double)

    /// Parses the CLI spelling, trailing parameters taking Flower's defaults: `fedavgm[:LR[:MOMENTUM]]` (1, 0),
    /// `fedadam[:ETA[:BETA1[:BETA2[:TAU]]]]` (0.1, 0.9, 0.99, 1e-9), `fedyogi[:ETA[:BETA1[:BETA2[:TAU]]]]` (0.01,
    /// 0.9, 0.99, 1e-3), `fedadagrad[:ETA[:TAU]]` (0.1, 1e-9).
    public init(parsing text: String) throws(FederationError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let names: [String]
        switch parts[0] {
        case "fedavgm": names = ["LR", "MOMENTUM"]
        case "fedadam", "fedyogi": names = ["ETA", "BETA1", "BETA2", "TAU"]
        case "fedadagrad": names = ["ETA", "TAU"]
        default:
            throw FederationError(
                .invalidParameter,
                "unknown server optimizer \"\(text)\" (fedavgm[:LR[:MOMENTUM]], fedadam[:ETA[:BETA1[:BETA2[:TAU]]]], fedyogi[:ETA[:BETA1[:BETA2[:TAU]]]], fedadagrad[:ETA[:TAU]])"
            )
        }
        guard parts.count <= names.count + 1 else {
            throw FederationError(
                .invalidParameter,
                "server optimizer \"\(text)\" has too many parameters (\(parts[0]) takes \(names.joined(separator: ":")))"
            )
        }
        func number(_ index: Int, default value: Double) throws(FederationError) -> Double {
            guard index < parts.count else { return value }
            guard let parsed = Double(parts[index]), parsed.isFinite else {
                throw FederationError(
                    .invalidParameter,
                    "\(names[index - 1]) \"\(parts[index])\" in server optimizer \"\(text)\" is not a number")
            }
            return parsed
        }
        switch parts[0] {
        case "fedavgm":
            self = .fedAvgM(learningRate: try number(1, default: 1), momentum: try number(2, default: 0))
        case "fedadam":
            self = .fedAdam(
                eta: try number(1, default: 0.1), beta1: try number(2, default: 0.9),
                beta2: try number(3, default: 0.99), tau: try number(4, default: 1e-9))
        case "fedyogi":
            self = .fedYogi(
                eta: try number(1, default: 0.01), beta1: try number(2, default: 0.9),
                beta2: try number(3, default: 0.99), tau: try number(4, default: 1e-3))
        default:
            self = .fedAdagrad(eta: try number(1, default: 0.1), tau: try number(2, default: 1e-9))
        }
        try validate()
    }

    /// The CLI spelling with every parameter, which `init(parsing:)` reads back.
    public var name: String {
        switch self {
        case .fedAvgM(let learningRate, let momentum): "fedavgm:\(learningRate):\(momentum)"
        case .fedAdam(let eta, let beta1, let beta2, let tau): "fedadam:\(eta):\(beta1):\(beta2):\(tau)"
        case .fedYogi(let eta, let beta1, let beta2, let tau): "fedyogi:\(eta):\(beta1):\(beta2):\(tau)"
        case .fedAdagrad(let eta, let tau): "fedadagrad:\(eta):\(tau)"
        }
    }

    /// Refuses parameters outside each optimizer's domain, naming the parameter: learning rates and τ positive,
    /// FedAvgM's momentum and the β in [0, 1).
    public func validate() throws(FederationError) {
        func positive(_ value: Double, _ parameter: String) throws(FederationError) {
            guard value > 0, value.isFinite else {
                throw FederationError(
                    .invalidParameter, "\(parameter) of \(label) must be positive and finite, got \(value)")
            }
        }
        func fraction(_ value: Double, _ parameter: String) throws(FederationError) {
            guard value >= 0, value < 1 else {
                throw FederationError(.invalidParameter, "\(parameter) of \(label) must be in [0, 1), got \(value)")
            }
        }
        switch self {
        case .fedAvgM(let learningRate, let momentum):
            try positive(learningRate, "the server learning rate")
            try fraction(momentum, "the server momentum")
        case .fedAdam(let eta, let beta1, let beta2, let tau), .fedYogi(let eta, let beta1, let beta2, let tau):
            try positive(eta, "eta")
            try fraction(beta1, "beta1")
            try fraction(beta2, "beta2")
            try positive(tau, "tau")
        case .fedAdagrad(let eta, let tau):
            try positive(eta, "eta")
            try positive(tau, "tau")
        }
    }

    /// The optimizer's name in messages.
    private var label: String {
        switch self {
        case .fedAvgM: "FedAvgM"
        case .fedAdam: "FedAdam"
        case .fedYogi: "FedYogi"
        case .fedAdagrad: "FedAdagrad"
        }
    }
}

extension ServerOptimizer {
    /// Decodes an optimizer and checks it as `validate()` does (it comes from the untrusted host in the plan).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self = try ServerOptimizer(parsing: container.decode(String.self))
    }

    /// Encodes the optimizer as its CLI spelling.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

/// What a signed global model says of the server optimizer: its spelling and how many steps it has taken (the moment
/// vectors stay in the enclave).
public struct ServerOptimizerSummary: Sendable, Hashable, Codable {
    public let name: String
    public let steps: Int

    public init(name: String, steps: Int) {
        self.name = name
        self.steps = steps
    }
}

/// A server optimizer across rounds: its first and second moments (one entry per model parameter, in Double; empty
/// until the first step) and the steps taken.
public struct ServerOptimizerState: Sendable, Hashable {
    public let optimizer: ServerOptimizer
    public private(set) var steps = 0
    /// FedAvgM's momentum buffer, or the first moment m of FedAdam and FedYogi (FedAdagrad's is the round's Δ).
    public private(set) var firstMoment: [Double] = []
    /// The second moment v of FedAdam, FedYogi and FedAdagrad.
    public private(set) var secondMoment: [Double] = []

    public init(_ optimizer: ServerOptimizer) {
        self.optimizer = optimizer
    }

    /// The spelling and step count a signed model carries.
    public var summary: ServerOptimizerSummary { ServerOptimizerSummary(name: optimizer.name, steps: steps) }

    /// Takes round `round`'s step: the new global model from the current one `global` and the round's `aggregate`
    /// (both of one length), each operation in Flower's order.
    public mutating func step(aggregate: [Double], global: [Double], round: Int) -> [Double] {
        let width = global.count
        steps += 1
        var updated = global
        switch optimizer {
        case .fedAvgM(let learningRate, let momentum):
            if firstMoment.isEmpty { firstMoment = Array(repeating: 0, count: width) }
            for index in 0..<width {
                let pseudoGradient = global[index] - aggregate[index]
                firstMoment[index] = steps == 1 ? pseudoGradient : momentum * firstMoment[index] + pseudoGradient
                updated[index] = global[index] - learningRate * firstMoment[index]
            }
        case .fedAdam(let eta, let beta1, let beta2, let tau):
            startMoments(width)
            let exponent = Double(round) + 1
            let etaNorm = eta * (1 - pow(beta2, exponent)).squareRoot() / (1 - pow(beta1, exponent))
            for index in 0..<width {
                let delta = aggregate[index] - global[index]
                firstMoment[index] = beta1 * firstMoment[index] + (1 - beta1) * delta
                secondMoment[index] = beta2 * secondMoment[index] + (1 - beta2) * (delta * delta)
                updated[index] = global[index] + etaNorm * firstMoment[index] / (secondMoment[index].squareRoot() + tau)
            }
        case .fedYogi(let eta, let beta1, let beta2, let tau):
            startMoments(width)
            for index in 0..<width {
                let delta = aggregate[index] - global[index]
                let square = delta * delta
                firstMoment[index] = beta1 * firstMoment[index] + (1 - beta1) * delta
                let sign: Double = secondMoment[index] > square ? 1 : secondMoment[index] < square ? -1 : 0
                secondMoment[index] -= (1 - beta2) * square * sign
                updated[index] = global[index] + eta * firstMoment[index] / (secondMoment[index].squareRoot() + tau)
            }
        case .fedAdagrad(let eta, let tau):
            if secondMoment.isEmpty { secondMoment = Array(repeating: 0, count: width) }
            for index in 0..<width {
                // Flower's first moment with beta1 = 0 is the round's Δ itself.
                let delta = aggregate[index] - global[index]
                secondMoment[index] += delta * delta
                updated[index] = global[index] + eta * delta / (secondMoment[index].squareRoot() + tau)
            }
        }
        return updated
    }

    private mutating func startMoments(_ width: Int) {
        if firstMoment.isEmpty { firstMoment = Array(repeating: 0, count: width) }
        if secondMoment.isEmpty { secondMoment = Array(repeating: 0, count: width) }
    }
}
