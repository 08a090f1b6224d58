import ArgumentParser
import ConfidentialProtocol
import EnclavePlatform
import EnclaveProtocol
import Federated
import FederationServer
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `cloister fl serve`: launches the aggregator enclave and serves its HTTP host.
struct FLServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the aggregator enclave behind an HTTP host that relays only ciphertext.",
        discussion: """
            Launches the enclave the signed manifest describes (e.g. Manifests/fedavg.manifest.cose), gives it the \
            plan and the registered clients' keys, and serves GET /fl/v1/federation, GET /fl/v1/model, \
            POST /fl/v1/quote and POST /fl/v1/updates on loopback. Rounds close inside the enclave at --min-clients \
            updates or the --round-timeout. Exit: 0 when the federation finished (with --exit-when-finished) or on \
            SIGINT/SIGTERM, 64 for bad options, 1 otherwise.
            """
    )

    @Option(help: "The signed aggregator manifest (cloister sign Manifests/fedavg.toml).")
    var manifest: String

    @Option(help: "The client registry: JSON {\"clients\": [{\"id\", \"public_key\" (PEM)}]}.")
    var clients: String

    @Option(help: "The platform home (default: $CLOISTER_HOME, else ~/.cloister).")
    var home: String?

    @Option(help: "The evidence the enclave's quotes take: \(EvidenceKind.names) (default: the manifest's).")
    var evidence: EvidenceKind?

    @Option(help: "The address to listen on (loopback by default).")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on.")
    var port = 8090

    @OptionGroup var federation: FederationOptions
    @OptionGroup var model: FederatedModelOptions

    @OptionGroup var timeouts: HTTPTimeoutOptions

    @Flag(help: "Stop serving a few seconds after the last round (clients fetch the final model meanwhile).")
    var exitWhenFinished = false

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1 to 65535") }
    }

    func run() async throws {
        let logger = {
            var logger = Logger(label: "cloister.fl")
            logger.logLevel =
                ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return logger
        }()
        let (ids, keys) = try ClientRegistryFile.load(clients)
        let config = FederationConfig(plan: try federation.plan(clients: ids), clientKeys: keys, model: model.spec)
        try await reportingErrors {
            let (platform, _, channel) = try RunCommand.launch(manifest: manifest, home: home, evidence: evidence)
            defer {
                channel.shutdown()
                _ = try? platform.waitForEnclave()
            }
            let relay = AggregatorRelay(caller: EnclaveCaller(channel: channel))
            let board = try await FederationBoard.begin(config, relay: relay)
            let app = FederationRoutes.application(
                relay: relay, board: board, host: host, port: port, timeouts: timeouts.timeouts, logger: logger)
            logger.info(
                "aggregator host listening", metadata: ["address": "\(host):\(port)", "clients": "\(ids.count)"])
            let lastRound = Date().addingTimeInterval(
                Double(config.plan.rounds) * (config.plan.roundTimeout + 5) + 60)
            // The server runs until a signal or, with --exit-when-finished, a graceful shutdown a few seconds
            // after the last round (clients fetch the final model meanwhile); a signal also stops the round clock.
            let server = ServiceGroup(
                services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            let exitWhenFinished = self.exitWhenFinished
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await server.run()
                    return true
                }
                group.addTask {
                    let final = try await RoundCloser(relay: relay, board: board, plan: config.plan).run(
                        until: lastRound, published: { state in logger.info("\(state.header.summary)") })
                    logger.info("federation finished: \(final.header.finishReason ?? "")")
                    if exitWhenFinished {
                        try await Task.sleep(for: .seconds(3))
                        await server.triggerGracefulShutdown()
                    }
                    return false
                }
                while let serverStopped = try await group.next() {
                    if serverStopped {
                        group.cancelAll()
                        break
                    }
                }
            }
        }
    }
}
