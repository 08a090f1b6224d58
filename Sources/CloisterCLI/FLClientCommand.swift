import ArgumentParser
import Attestation
import CloisterCrypto
import ConfidentialProtocol
import EnclavePlatform
import EnclaveProtocol
import Federated
import FederationServer
import Foundation
import Learning
import Privacy
import RelyingParty
import Verifier

/// `cloister fl client`: one data owner taking part in a federation.
struct FLClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "client",
        abstract: "Take part in a federation: verify the aggregator, train locally, send sealed signed updates.",
        discussion: """
            Fetches the aggregator's quote on a fresh nonce and appraises it (the platform root from the platform \
            home; --policy, else the measurement of --manifest or --measurement), or has the verifier service at \
            --verifier appraise it (its nonce, its policy, its signed EAR checked against its JWK set), and sends \
            nothing if that fails. \
            Then, each round this client is sampled into: trains locally from the signed global model, signs the \
            update with --key, seals it with HPKE to the attested key and submits it. Every global model is \
            accepted only if the attested key signed it. Exit: 0 when the federation finished, 2 when the \
            aggregator or a signed model is refused (also an aggregator lost after joining: the message names the \
            round to redo), 64 for bad options, 65 for bad data, 69 when the aggregator host cannot be reached to \
            join, 1 otherwise.
            """
    )

    @Option(help: "The aggregator host, e.g. http://127.0.0.1:8090.")
    var server: String

    @Option(help: "This client's registered identifier (default: the one the federation registers --key under).")
    var id: String?

    @Option(help: "This client's P-256 private key (PEM); its public key is in the server's --clients file.")
    var key: String

    @OptionGroup var dataset: DatasetOptions

    @Option(help: "Appraise the aggregator under this policy (TOML or JSON).")
    var policy: String?

    @Option(
        help: "Have this verifier service appraise the aggregator instead (challenge-response; its EAR is checked).")
    var verifier: String?

    @Option(help: "With --verifier: the service's policy id (default: its default policy).")
    var verifierPolicy: String?

    @Option(help: "Without --policy: require the measurement of this signed manifest.")
    var manifest: String?

    @Option(help: "Without --policy: require this measurement (hex).")
    var measurement: String?

    @Flag(help: "Without --policy: accept an aggregator signed with the public development key.")
    var allowDevelopmentKeys = false

    @Option(help: "The platform home whose published root the quote must chain to (default: $CLOISTER_HOME).")
    var home: String?

    @OptionGroup var local: LocalTrainingOptions

    @Option(parsing: .unconditional, help: "Give up after this many seconds.")
    var timeout = 600.0

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be positive, got \(timeout)") }
    }

    func run() async throws {
        try await reportingErrors {
            let policy = try aggregatorPolicy()
            let appraiser = try RelyingParty.appraiser(home: home)
            guard let url = URL(string: server), url.scheme == "http" || url.scheme == "https" else {
                throw ValidationError("--server must be an http(s) URL, not \(server)")
            }
            let transport = FederationHTTPTransport(server: url)
            let client = FederationClient(
                transport: { try await transport.call($0, $1) }, appraiser: appraiser, policy: policy,
                clientID: id, signingKey: try CommandInput.privateKey(key, "--key"))
            let (train, test) = try localData()
            let session = try await client.join(
                attestation: try VerifierURL.attestation(verifier, policy: verifierPolicy))
            printToStandardError(
                "cloister: aggregator attested (\(session.enclave.status.rawValue)), federation \(session.descriptor.federationID)"
            )
            let final = try await FederatedParticipation(
                client: client, session: session,
                local: local.training(for: session.descriptor.config.plan.strategy)
            ).run(on: train, deadline: Date().addingTimeInterval(timeout)) { round in
                printToStandardError("cloister: submitted an update for round \(round)")
            }
            var model = try session.descriptor.config.model.makeModel()
            model.parameters = final.parameters.map(Double.init)
            report(final.header, accuracy: model.accuracy(on: test), testExamples: test.count)
        }
    }

    private func aggregatorPolicy() throws -> Policy {
        if verifier != nil {
            guard policy == nil, manifest == nil, measurement == nil else {
                throw ValidationError(
                    "--verifier replaces --policy, --manifest and --measurement: the service's policy decides")
            }
            return Policy(id: "verifier-service")
        }
        var expected = measurement?.lowercased() ?? ""
        if policy == nil {
            if let manifest {
                expected = hexEncoded(try CommandInput.signedManifest(manifest, "--manifest").measurement.bytes)
            } else if measurement == nil {
                throw ValidationError("give --policy, --manifest or --measurement: what aggregator to trust")
            }
        }
        return try RelyingParty.policy(
            file: policy, id: "fl-client", measurement: expected, allowDevelopmentKeys: allowDevelopmentKeys)
    }

    /// This client's data through the schema, split 80/20: it trains on the first, reports accuracy on the second.
    private func localData() throws -> (Dataset, Dataset) {
        let dataset = try Dataset(
            csvAt: dataset.data, label: dataset.label,
            schema: dataset.schema.map { path throws(LearningError) in try FeatureSchema(contentsOf: path) })
        return dataset.split(testFraction: 0.2, seed: 0)
    }

    private func report(_ state: ModelState, accuracy: Double, testExamples: Int) {
        if json {
            struct Output: Encodable {
                let rounds: Int
                let accuracy: Double
                let test_examples: Int
                let epsilon_pld: Double?
                let epsilon_rdp: Double?
                let delta: Double?
                let finish_reason: String?
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let output = Output(
                rounds: state.completedRounds, accuracy: accuracy, test_examples: testExamples,
                epsilon_pld: state.privacy?.epsilon(by: .pld),
                epsilon_rdp: state.privacy?.epsilon(by: .rdp),
                delta: state.privacy?.delta, finish_reason: state.finishReason)
            print(String(decoding: (try? encoder.encode(output)) ?? Data(), as: UTF8.self))
        } else {
            print(state.summary)
            print(String(format: "local test accuracy %.4f on %d examples", accuracy, testExamples))
            if let reason = state.finishReason { print("finished: \(reason)") }
        }
    }
}
