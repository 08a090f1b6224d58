public import ArgumentParser
import AsyncHTTPClient
import CloisterCrypto
import ConfidentialProtocol
import Federated
import FederationServer
import Foundation
import Learning
import Privacy
import RelyingParty
import Verifier

/// `cloister fl`: federated learning with an attested aggregator enclave.
public struct FLCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "fl",
        abstract: "Federated learning: an attested aggregator enclave, its clients, and whole simulated federations.",
        subcommands: [FLServeCommand.self, FLClientCommand.self, FLSimulateCommand.self]
    )

    public init() {}
}

/// The registered clients of a federation: `{"clients": [{"id": "hospital-1", "public_key": "-----BEGIN PUBLIC
/// KEY-----..."}]}`, each key a P-256 public key in PEM (the client signs its updates with the private half).
struct ClientRegistryFile: Codable {
    struct Entry: Codable {
        let id: String
        let publicKey: String

        enum CodingKeys: String, CodingKey {
            case id
            case publicKey = "public_key"
        }
    }

    let clients: [Entry]

    /// The registry at `path`, as client ids (file order) and their keys (SubjectPublicKeyInfo DER, hex).
    static func load(_ path: String) throws -> (ids: [String], keys: [String: String]) {
        let registry: ClientRegistryFile
        do {
            registry = try JSONDecoder().decode(Self.self, from: Data(CommandInput.bytes(path, "--clients")))
        } catch let error as ValidationError {
            throw error
        } catch {
            throw ValidationError(
                "--clients \(path) is not a client registry ({\"clients\": [{\"id\", \"public_key\"}]}): \(error)")
        }
        var keys: [String: String] = [:]
        for entry in registry.clients {
            guard let key = try? ECPublicKey(pemRepresentation: entry.publicKey), key.curve == .p256 else {
                throw ValidationError("--clients \(path): client \"\(entry.id)\" has no P-256 public key in PEM")
            }
            guard keys.updateValue(hexEncoded(key.derRepresentation), forKey: entry.id) == nil else {
                throw ValidationError("--clients \(path): client \"\(entry.id)\" is registered twice")
            }
        }
        guard !keys.isEmpty else { throw ValidationError("--clients \(path) registers no clients") }
        return (registry.clients.map(\.id), keys)
    }
}

/// The federation options `fl serve` and `fl simulate` share: rounds, cohorts, closing, strategy, server optimizer,
/// DP-FedAvg and its adaptive clipping.
struct FederationOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Rounds to run.")
    var rounds = 5

    @Option(
        parsing: .unconditional,
        help: "Close a round once this many clients submitted (default: every client of the round's cohort).")
    var minClients: Int?

    @Option(parsing: .unconditional, help: "Close a round with fewer updates after this many seconds.")
    var roundTimeout = 60.0

    @Option(help: "fedavg, fedprox[:MU], median, trimmed-mean[:BETA], krum[:F] or multi-krum:F:M.")
    var strategy = "fedavg"

    @Option(
        parsing: .unconditional,
        help:
            "Server optimizer on each round's aggregate (Flower's defaults): fedavgm[:LR[:MOMENTUM]], fedadam[:ETA[:BETA1[:BETA2[:TAU]]]], fedyogi[:ETA[:BETA1[:BETA2[:TAU]]]] or fedadagrad[:ETA[:TAU]] (default: none, the aggregate is the model)."
    )
    var serverOptimizer: String?

    @Option(
        parsing: .unconditional,
        help: "Expected clients per round M: each round samples each client with probability M/N (default: all N).")
    var clientsPerRound: Int?

    @Option(
        parsing: .unconditional,
        help:
            "DP-FedAvg noise multiplier z: noise std z*C/m on the averaged update (client-level DP; with --adaptive-clip, z is split between the update and the count that moves the clip)."
    )
    var dpNoiseMultiplier: Double?

    @Option(
        parsing: .unconditional, help: "With --dp-noise-multiplier: the L2 bound C each client's update is clipped to.")
    var clip: Double?

    @Option(
        parsing: .unconditional,
        help: "With --dp-noise-multiplier: the delta of the client-level guarantee, at most 1/N.")
    var delta: Double?

    @Option(
        parsing: .unconditional,
        help:
            "With --dp-noise-multiplier: sample no client into more rounds than keep its epsilon within this (cohorts are published, so rounds are not amplified by sampling); finish when none is left."
    )
    var epsilonBudget: Double?

    @Flag(
        help:
            "With --dp-noise-multiplier: adapt the clip each round towards a quantile of the update norms, --clip being round 1's (Andrew et al. 2021)."
    )
    var adaptiveClip = false

    @Option(
        parsing: .unconditional,
        help: "With --adaptive-clip: the fraction of updates meant to be at most the clip (default 0.5).")
    var targetQuantile: Double?

    @Option(parsing: .unconditional, help: "With --adaptive-clip: the clip's geometric learning rate (default 0.2).")
    var clipLearningRate: Double?

    @Option(
        parsing: .unconditional,
        help:
            "With --adaptive-clip: std of the noise on the count of unclipped updates, above Z/2 (default M/20).")
    var countNoise: Double?

    /// The checked plan for `clients`.
    func plan(clients: [String]) throws -> FederationPlan {
        do {
            let strategy = try AggregationStrategy(parsing: strategy)
            let optimizer = try serverOptimizer.map(ServerOptimizer.init(parsing:))
            let cohort = clientsPerRound ?? clients.count
            var privacy: ClientLevelPrivacy?
            if let dpNoiseMultiplier {
                guard let clip, let delta else {
                    throw ValidationError("--dp-noise-multiplier needs --clip and --delta")
                }
                var adaptive: AdaptiveClipping?
                if adaptiveClip {
                    adaptive = try AdaptiveClipping(
                        targetQuantile: targetQuantile ?? 0.5, learningRate: clipLearningRate ?? 0.2,
                        countNoise: countNoise ?? AdaptiveClipping.defaultCountNoise(clientsPerRound: cohort))
                } else if targetQuantile != nil || clipLearningRate != nil || countNoise != nil {
                    throw ValidationError(
                        "--target-quantile, --clip-learning-rate and --count-noise go with --adaptive-clip")
                }
                privacy = try ClientLevelPrivacy(
                    noiseMultiplier: dpNoiseMultiplier, clip: clip, delta: delta, epsilonBudget: epsilonBudget,
                    clientsPerRound: cohort, registeredClients: clients.count, adaptiveClipping: adaptive)
            } else if clip != nil || delta != nil || epsilonBudget != nil || adaptiveClip || targetQuantile != nil
                || clipLearningRate != nil || countNoise != nil
            {
                throw ValidationError(
                    "--clip, --delta, --epsilon-budget, --adaptive-clip, --target-quantile, --clip-learning-rate and --count-noise go with --dp-noise-multiplier"
                )
            }
            return try FederationPlan(
                clients: clients, rounds: rounds, minClients: minClients ?? clients.count, roundTimeout: roundTimeout,
                strategy: strategy, privacy: privacy, clientsPerRound: cohort, serverOptimizer: optimizer)
        } catch let error as FederationError {
            throw ValidationError(error.reason)
        }
    }
}

/// The model options: which model the federation trains.
struct FederatedModelOptions: ParsableArguments {
    @Option(help: "The model: logistic (labels 0/1), softmax, or mlp.")
    var model: ModelKind = .logistic

    @Option(parsing: .unconditional, help: "Number of input features.")
    var features: Int

    @Option(parsing: .unconditional, help: "Number of classes.")
    var classes = 2

    @Option(parsing: .unconditional, help: "Hidden units of the mlp.")
    var hiddenUnits = 32

    var spec: ModelSpec {
        ModelSpec(kind: model, featureCount: features, classCount: classes, hiddenUnits: hiddenUnits)
    }
}

/// A client's local training options (`fl client`, `fl simulate`).
struct LocalTrainingOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Local passes over the client's data each round.")
    var localEpochs = 2

    @Option(parsing: .unconditional, help: "Local minibatch size.")
    var batchSize = 16

    @Option(parsing: .unconditional, help: "Local learning rate.")
    var lr = 1.0

    func validate() throws {
        _ = try training(for: .fedAvg)
    }

    /// The local training, with FedProx's proximal weight when `strategy` is FedProx.
    func training(for strategy: AggregationStrategy) throws -> LocalTraining {
        do {
            return try LocalTraining(
                epochs: localEpochs, batchSize: batchSize, learningRate: lr, proximalWeight: strategy.proximalWeight)
        } catch {
            throw ValidationError(error.reason)
        }
    }
}

/// `--verifier URL`: attestation by a verifier service instead of a local appraiser.
enum VerifierURL {
    /// The attestation `FederationClient.join` takes for `url` (nil: appraise locally).
    static func attestation(_ url: String?, policy: String?, http: HTTPClient = .shared) throws -> (
        @Sendable (FederationClient.Transport) async throws -> AttestedEnclave
    )? {
        guard let url else { return nil }
        guard let parsed = URL(string: url), parsed.scheme == "http" || parsed.scheme == "https" else {
            throw ValidationError("--verifier must be an http(s) URL, not \(url)")
        }
        let service = VerifierServiceAttestation(verifier: parsed, policyID: policy, http: http)
        return { call in try await service.attest(call: call) }
    }
}

extension ModelState {
    /// One line for progress output.
    var summary: String {
        var line = "round \(completedRounds): \(participants.count) update(s)"
        if let privacy, let tightest = privacy.tightestFirst.first {
            line += String(
                format: ", client-level epsilon %.4g (delta %g; the most-sampled client, %d round(s))",
                tightest.epsilon,
                privacy.delta, privacy.steps)
        }
        return line
    }
}
