public import ConfidentialProtocol
public import Federated
public import Foundation
public import Learning

/// A client's part in a whole federation: poll the signed global model; in each round whose cohort holds this
/// client, train locally from that model and submit; stop when the federation finishes.
public struct FederatedParticipation: Sendable {
    public let client: FederationClient
    public let session: FederationClient.Session
    public let local: LocalTraining
    /// How often to poll for the next global model.
    public let pollInterval: TimeInterval

    public init(
        client: FederationClient, session: FederationClient.Session, local: LocalTraining,
        pollInterval: TimeInterval = 0.1
    ) {
        self.client = client
        self.session = session
        self.local = local
        self.pollInterval = pollInterval
    }

    /// Runs until the federation finishes (returns the verified final model) or `deadline` passes (throws).
    /// `submitted(round)` follows each accepted update; `update` may rewrite the trained parameters (simulations use
    /// it to play a malicious client).
    public func run(
        on data: Dataset, deadline: Date, submitted: (Int) -> Void = { _ in },
        update: ([Float], [Float]) -> [Float] = { _, trained in trained }
    ) throws -> SignedStatement<ModelState> {
        var model = try session.descriptor.config.model.makeModel()
        var done: Set<Int> = []
        while Date() < deadline {
            let state = try client.state(in: session)
            guard let round = state.header.openRound else { return state }
            if state.header.cohort.contains(session.clientID), !done.contains(round) {
                model.parameters = state.parameters.map(Double.init)
                let trained = local.train(model, on: data, seed: UInt64(round)).parameters.map(Float.init)
                _ = try client.submit(
                    update(state.parameters, trained), exampleCount: data.count, round: round, in: session)
                done.insert(round)
                submitted(round)
            } else {
                Thread.sleep(forTimeInterval: pollInterval)
            }
        }
        throw FederationError(.roundNotReady, "the federation did not finish before the deadline")
    }
}
