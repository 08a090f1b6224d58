import ArgumentParser
import AsyncHTTPClient
import Attestation
import CloisterCrypto
import ConfidentialProtocol
import Dispatch
import EnclavePlatform
import EnclaveProtocol
import Federated
import FederationServer
import Foundation
import Hummingbird
import Learning
import Logging
import Privacy
import RelyingParty
import ServiceLifecycle
import Synchronization
import UnixSignals
import Verifier

/// `cloister fl simulate`: a whole federation on one machine, over loopback HTTP, through a real aggregator enclave.
struct FLSimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a federation on one machine: the aggregator enclave, its HTTP host, N clients over loopback.",
        discussion: """
            Splits the data 80/20 (--seed), deals the training part to --clients clients (--partition), launches \
            the aggregator from --manifest on the platform in --home, and runs every client as `fl client` does: \
            attest, train locally, sign, seal, submit, verify. Clients are tasks sharing pooled connections: one \
            held request per round learns of the next model, the sampled clients run --parallel at a time, each \
            attesting the aggregator on its own nonce when first sampled. The first --malicious clients send the \
            global model minus 20 times their honest update. Prints test accuracy and client-level epsilon per \
            round, writes them to --metrics (CSV) and --plot (SVG). Exit 0, 2 when the aggregator or a signed model \
            is refused, 64 for bad options, 65 for bad data, 143 (130) when stopped by SIGTERM (SIGINT), 1 \
            otherwise.
            """
    )

    @OptionGroup var dataset: DatasetOptions

    @Option(parsing: .unconditional, help: "Number of clients.")
    var clients = 5

    @Option(help: "How the training data is dealt: iid, dirichlet:ALPHA, or sample:K (K examples per client).")
    var partition = "iid"

    @Option(parsing: .unconditional, help: "How many of the clients send scaled, sign-flipped updates.")
    var malicious = 0

    @Option(parsing: .unconditional, help: "How many sampled clients train and submit at once.")
    var parallel = 64

    @Option(help: "The signed aggregator manifest.")
    var manifest = "Manifests/fedavg.manifest.cose"

    @Option(help: "The platform home (default: $CLOISTER_HOME, else ~/.cloister).")
    var home: String?

    @Option(help: "The evidence the enclave's quotes take: \(EvidenceKind.names) (default: the manifest's).")
    var evidence: EvidenceKind?

    @Option(help: "Have every client attest the aggregator through this verifier service (challenge-response).")
    var verifier: String?

    @Option(help: "With --verifier: the service's policy id (default: its default policy).")
    var verifierPolicy: String?

    @OptionGroup var federation: FederationOptions

    @Option(
        help: "The model: logistic (labels 0/1), softmax, or mlp (default: logistic for two classes, else softmax).")
    var model: ModelKind?

    @OptionGroup var local: LocalTrainingOptions

    @Option(parsing: .unconditional, help: "Seed of the split and the partition.")
    var seed: UInt64 = 0

    @Option(help: "Write per-round metrics here (CSV: round, participants, accuracy, epsilon_pld, epsilon_rdp).")
    var metrics: String?

    @Option(help: "Write an SVG plot of accuracy and epsilon by round here.")
    var plot: String?

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard clients > 0 else { throw ValidationError("--clients must be positive") }
        guard parallel > 0 else { throw ValidationError("--parallel must be positive") }
        guard (0..<clients).contains(malicious) else {
            throw ValidationError("--malicious must be in 0..<\(clients) (at least one honest client)")
        }
    }

    func run() async throws {
        let logger = Logger(label: "cloister.fl.simulate")
        try await reportingErrors {
            let measurement = hexEncoded(try CommandInput.signedManifest(manifest, "--manifest").measurement.bytes)
            let dataset = try Dataset(
                csvAt: dataset.data, label: dataset.label,
                schema: dataset.schema.map { path throws(LearningError) in try FeatureSchema(contentsOf: path) })
            let (train, test) = dataset.split(testFraction: 0.2, seed: seed)
            let shares: [Dataset]
            do {
                shares = try DataPartition(parsing: partition).split(train, clients: clients, seed: seed)
            } catch let error as FederationError {
                throw ValidationError(error.reason)
            }
            let names = (0..<clients).map { "client-\($0 + 1)" }
            let keys = try names.map { _ in try ECPrivateKey(generating: .p256) }
            let spec = ModelSpec(
                kind: model ?? (dataset.classCount == 2 ? .logistic : .softmax), featureCount: dataset.featureCount,
                classCount: dataset.classCount)
            let config = FederationConfig(
                plan: try federation.plan(clients: names),
                clientKeys: Dictionary(
                    uniqueKeysWithValues: zip(names, keys.map { hexEncoded($0.publicKey.derRepresentation) })),
                model: spec)
            let training = try local.training(for: config.plan.strategy)

            let (platform, _, channel) = try RunCommand.launch(manifest: manifest, home: home, evidence: evidence)
            defer {
                channel.shutdown()
                _ = try? platform.waitForEnclave()
            }
            let appraiser = try RelyingParty.appraiser(home: home)
            let policy = try RelyingParty.policy(
                file: nil, id: "fl-simulate", measurement: measurement, allowDevelopmentKeys: true)
            let relay = AggregatorRelay(caller: EnclaveCaller(channel: channel))
            let board = try await FederationBoard.begin(config, relay: relay)
            let port = SharedValue<Int?>(nil)
            let app = FederationRoutes.application(
                relay: relay, board: board, host: "127.0.0.1", port: 0, logger: logger,
                onServerRunning: { channel in port.value.withLock { $0 = channel.localAddress?.port } })
            let deadline = Date().addingTimeInterval(
                Double(config.plan.rounds) * (config.plan.roundTimeout + 5) + 60)
            let http = HTTPClient(
                eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                configuration: HTTPClient.Configuration(
                    connectionPool: .init(
                        idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: parallel + 2)))
            let start = Date()
            let metricsRows = SharedValue<[RoundMetrics]>([])
            let outcome: Result<Void, any Error>
            do {
                // Signals stop the whole run (`stoppingOnSignal`), not only the server.
                let server = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
                try await Self.stoppingOnSignal {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask { try await server.run() }
                        let url = try await Self.address(of: port)
                        let transport = FederationHTTPTransport(server: url, http: http)
                        let simulated = SimulatedClients(
                            clients: names.indices.map { index in
                                FederationClient(
                                    transport: { try await transport.call($0, $1) }, appraiser: appraiser,
                                    policy: policy, clientID: names[index], signingKey: keys[index])
                            },
                            shares: shares, local: training, malicious: malicious, parallel: parallel,
                            attestation: try VerifierURL.attestation(verifier, policy: verifierPolicy, http: http))
                        let closer = RoundCloser(relay: relay, board: board, plan: config.plan)
                        // The rounds end when the closer publishes the last model and the clients have seen it; the
                        // first failure of either stops the other.
                        try await withThrowingTaskGroup(of: Void.self) { rounds in
                            rounds.addTask { _ = try await simulated.run(until: deadline) }
                            rounds.addTask {
                                let bar = ProgressBar(label: "federated rounds", total: config.plan.rounds)
                                var global = try spec.makeModel()
                                _ = try await closer.run(until: deadline) { state in
                                    global.parameters = state.parameters.map(Double.init)
                                    let row = RoundMetrics(
                                        round: state.header.completedRounds,
                                        participants: state.header.participants.count,
                                        accuracy: global.accuracy(on: test), privacy: state.header.privacy,
                                        seconds: Date().timeIntervalSince(start))
                                    metricsRows.value.withLock { $0.append(row) }
                                    bar.update(row.round)
                                    if !json { printToStandardError(" " + row.line) }
                                }
                                bar.finish()
                            }
                            while try await rounds.next() != nil {}
                        }
                        await server.triggerGracefulShutdown()
                        try await group.waitForAll()
                    }
                }
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            try? await http.shutdown()
            try outcome.get()
            try report(metricsRows.value.withLock { $0 }, testExamples: test.count)
        }
    }

    /// The server's loopback URL once it listens (at most 10 s).
    private static func address(of port: SharedValue<Int?>) async throws -> URL {
        for _ in 0..<200 {
            if let bound = port.value.withLock({ $0 }), let url = URL(string: "http://127.0.0.1:\(bound)") {
                return url
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("the aggregator host did not start listening within 10 s")
    }

    /// Runs `body`, cancelling it at SIGTERM or SIGINT; a stop by signal ends the command with 128 + the signal.
    private static func stoppingOnSignal(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let stopped = SharedValue<UnixSignal?>(nil)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    for await signal in signals {
                        stopped.value.withLock { $0 = signal }
                        throw CancellationError()
                    }
                }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            guard let signal = stopped.value.withLock({ $0 }) else { throw error }
            printToStandardError("cloister: stopped by \(signal)")
            throw ExitCode(signal == .sigint ? 130 : 143)
        }
    }

    private func report(_ rows: [RoundMetrics], testExamples: Int) throws {
        if let metrics {
            let lines = ["round,participants,accuracy,epsilon_pld,epsilon_rdp,delta,seconds"] + rows.map(\.csv)
            try AtomicFile(path: metrics, mode: 0o644).write(Array((lines.joined(separator: "\n") + "\n").utf8))
        }
        if let plot {
            try AtomicFile(path: plot, mode: 0o644).write(Array(RoundMetrics.svg(rows).utf8))
        }
        guard let last = rows.last else { return }
        let seconds = last.seconds
        if json {
            struct Output: Encodable {
                let rounds: Int
                let clients: Int
                let accuracy: Double
                let test_examples: Int
                let epsilon_pld: Double?
                let epsilon_rdp: Double?
                let delta: Double?
                let seconds: Double
                let rounds_per_second: Double
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let output = Output(
                rounds: last.round, clients: clients, accuracy: last.accuracy, test_examples: testExamples,
                epsilon_pld: last.privacy?.epsilon(by: .pld),
                epsilon_rdp: last.privacy?.epsilon(by: .rdp),
                delta: last.privacy?.delta, seconds: seconds, rounds_per_second: Double(last.round) / seconds)
            print(String(decoding: try encoder.encode(output), as: UTF8.self))
        } else {
            print(
                String(
                    format: "test accuracy %.4f on %d examples after %d rounds", last.accuracy, testExamples, last.round
                ))
            if let privacy = last.privacy {
                let epsilons = privacy.tightestFirst.map { spent in
                    String(format: "%.4f", spent.epsilon) + " (\(spent.accountant.rawValue.uppercased()))"
                }
                print(
                    "client-level epsilon \(epsilons.joined(separator: ", "))"
                        + String(format: " at delta %g", privacy.delta)
                        + " (the most-sampled client: \(privacy.steps) round(s), unamplified, as cohorts are published)"
                )
            } else {
                print("no client-level DP (give --dp-noise-multiplier, --clip and --delta)")
            }
            print(String(format: "%.2f rounds per second (%.1f s)", Double(last.round) / seconds, seconds))
            if let metrics { print("metrics written to \(metrics)") }
            if let plot { print("plot written to \(plot)") }
        }
    }
}

/// A value the simulation's tasks share: the port the in-process server bound (it listens on port 0, any free
/// loopback port), the rounds measured so far, the signal that stopped the run.
final class SharedValue<Value: Sendable>: Sendable {
    let value: Mutex<Value>

    init(_ initial: Value) {
        value = Mutex(initial)
    }
}

/// One published round as the simulation measured it.
struct RoundMetrics {
    let round: Int
    let participants: Int
    let accuracy: Double
    let privacy: PrivacyReport?
    let seconds: Double

    var line: String {
        var text = String(format: "round %d: %d updates, test accuracy %.4f", round, participants, accuracy)
        if let epsilon = privacy?.tightestFirst.first?.epsilon { text += String(format: ", epsilon %.4g", epsilon) }
        return text
    }

    var csv: String {
        let privacyColumns = [privacy?.epsilon(by: .pld), privacy?.epsilon(by: .rdp), privacy?.delta].map { value in
            value.map { "\($0)" } ?? ""
        }
        return "\(round),\(participants),\(accuracy),\(privacyColumns.joined(separator: ",")),\(seconds)"
    }

    /// Accuracy (left axis, 0 to 1) and epsilon (right axis, 0 to the largest) by round, as a standalone SVG.
    static func svg(_ rows: [RoundMetrics]) -> String {
        let (width, height, margin) = (640.0, 360.0, 50.0)
        let rounds = Double(max(rows.last?.round ?? 1, 1))
        let epsilonMax = max(rows.compactMap { $0.privacy?.tightestFirst.first?.epsilon }.max() ?? 0, 1e-9)
        func x(_ round: Int) -> Double { margin + (width - 2 * margin) * Double(round) / rounds }
        func y(_ fraction: Double) -> Double { height - margin - (height - 2 * margin) * fraction }
        func polyline(_ points: [(Int, Double)], colour: String) -> String {
            let coordinates = points.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
            return #"<polyline fill="none" stroke="\#(colour)" stroke-width="2" points="\#(coordinates)"/>"#
        }
        var parts = [
            #"<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360" font-family="sans-serif" font-size="12">"#,
            #"<rect width="640" height="360" fill="white"/>"#,
            String(
                format: #"<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>"#, margin, y(0),
                width - margin, y(0)),
            String(
                format: #"<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>"#, margin, y(0), margin, y(1)),
            String(format: #"<text x="%.0f" y="%.0f">round</text>"#, width / 2, height - 15),
            String(format: #"<text x="5" y="%.0f" fill="steelblue">accuracy 1.0</text>"#, y(1) - 5),
            String(format: #"<text x="5" y="%.0f" fill="steelblue">0</text>"#, y(0)),
            polyline(rows.map { ($0.round, $0.accuracy) }, colour: "steelblue"),
        ]
        if rows.contains(where: { $0.privacy != nil }) {
            parts.append(
                String(
                    format: #"<text x="%.0f" y="%.0f" fill="firebrick" text-anchor="end">epsilon %.3g</text>"#,
                    width - 5, y(1) - 5, epsilonMax))
            parts.append(
                polyline(
                    rows.compactMap { row in
                        row.privacy?.tightestFirst.first.map { (row.round, $0.epsilon / epsilonMax) }
                    },
                    colour: "firebrick"))
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n") + "\n"
    }
}
