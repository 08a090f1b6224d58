import Privacy

/// What a federation runs, fixed when the aggregator starts: who may take part, how many of them a round samples, for
/// how many rounds, how a round closes, how updates are combined, (optionally) how the server moves the model towards
/// each round's aggregate, and (optionally) the client-level differential privacy of what it publishes.
public struct FederationPlan: Sendable, Hashable, Codable {
    /// The registered clients' identifiers, in registry order.
    public let clients: [String]
    public let rounds: Int
    /// A round closes as soon as this many of its cohort have submitted (or all of a smaller cohort).
    public let minClients: Int
    /// …or, with at least one update, once it has been open this long.
    public let roundTimeout: Double
    public let strategy: AggregationStrategy
    public let privacy: ClientLevelPrivacy?
    /// M, the expected cohort: each round samples every registered client independently with probability M/N (all
    /// of them when M = N). With DP it is the privacy's `clientsPerRound`, the m of the accounting.
    public let clientsPerRound: Int
    /// The server optimizer applied to each round's aggregate; nil publishes the aggregate itself.
    public let serverOptimizer: ServerOptimizer?

    /// A checked plan; `clientsPerRound` defaults to the privacy's m with DP and to every client without.
    public init(
        clients: [String], rounds: Int, minClients: Int, roundTimeout: Double, strategy: AggregationStrategy,
        privacy: ClientLevelPrivacy?, clientsPerRound: Int? = nil, serverOptimizer: ServerOptimizer? = nil
    ) throws(FederationError) {
        guard !clients.isEmpty else { throw FederationError(.invalidParameter, "a federation needs clients") }
        guard Set(clients).count == clients.count else {
            throw FederationError(.invalidParameter, "client identifiers must be unique")
        }
        guard rounds > 0 else { throw FederationError(.invalidParameter, "rounds must be positive, got \(rounds)") }
        guard minClients > 0, minClients <= clients.count else {
            throw FederationError(
                .invalidParameter,
                "min clients must be in 1...\(clients.count) (the registered clients), got \(minClients)")
        }
        guard roundTimeout > 0, roundTimeout.isFinite else {
            throw FederationError(.invalidParameter, "the round timeout must be positive, got \(roundTimeout)")
        }
        try strategy.validate()
        try serverOptimizer?.validate()
        let cohort = clientsPerRound ?? privacy?.clientsPerRound ?? clients.count
        guard cohort > 0, cohort <= clients.count else {
            throw FederationError(
                .invalidParameter,
                "clients per round must be in 1...\(clients.count) (the registered clients), got \(cohort)")
        }
        if let privacy {
            guard strategy.isMean else {
                throw FederationError(
                    .invalidParameter,
                    "DP-FedAvg bounds the sensitivity of a mean of clipped updates; use fedavg or fedprox with --dp-noise-multiplier, not \(strategy.name)"
                )
            }
            // A round's exact sum adds at most one update of at most 2³¹ grid units a coordinate per client.
            guard clients.count <= DiscreteGaussianMechanism.maximumRecords else {
                throw FederationError(
                    .invalidParameter,
                    "DP-FedAvg sums at most \(DiscreteGaussianMechanism.maximumRecords) clients' updates exactly, the registry has \(clients.count)"
                )
            }
            guard privacy.registeredClients == clients.count else {
                throw FederationError(
                    .invalidParameter,
                    "the privacy accounting counts \(privacy.registeredClients) clients, the registry \(clients.count)")
            }
            guard privacy.clientsPerRound == cohort else {
                throw FederationError(
                    .invalidParameter,
                    "the privacy accounting samples \(privacy.clientsPerRound) clients per round, the plan \(cohort)")
            }
        }
        self.clients = clients
        self.rounds = rounds
        self.minClients = minClients
        self.roundTimeout = roundTimeout
        self.strategy = strategy
        self.privacy = privacy
        self.clientsPerRound = cohort
        self.serverOptimizer = serverOptimizer
    }

    /// M/N, the probability with which each registered client is sampled into a round's cohort.
    public var samplingRate: Double { PoissonSampling.rate(clientsPerRound, outOf: clients.count) }
}

extension FederationPlan {
    /// Decodes a plan and checks it as `init(clients:rounds:…)` does: the enclave takes its plan from the untrusted
    /// host, so a decoded plan is never trusted unchecked.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        try self.init(
            clients: container.decode([String].self, forKey: .clients),
            rounds: container.decode(Int.self, forKey: .rounds),
            minClients: container.decode(Int.self, forKey: .minClients),
            roundTimeout: container.decode(Double.self, forKey: .roundTimeout),
            strategy: container.decode(AggregationStrategy.self, forKey: .strategy),
            privacy: container.decodeIfPresent(ClientLevelPrivacy.self, forKey: .privacy),
            clientsPerRound: container.decode(Int.self, forKey: .clientsPerRound),
            serverOptimizer: container.decodeIfPresent(ServerOptimizer.self, forKey: .serverOptimizer))
    }
}
