public import ConfidentialProtocol
public import Federated
public import Foundation
public import Learning

/// A client's part in a whole federation: wait for the signed global model of a round whose cohort holds this
/// client, train locally from it and submit; stop when the federation finishes.
public struct FederatedParticipation: Sendable {
    public let client: FederationClient
    public let session: FederationClient.Session
    public let local: LocalTraining
    /// How long to pause before asking again when the host answered without waiting for a newer state (a transport
    /// that does not hold requests, such as a direct ECALL relay).
    public let pollInterval: Duration

    public init(
        client: FederationClient, session: FederationClient.Session, local: LocalTraining,
        pollInterval: Duration = .milliseconds(100)
    ) {
        self.client = client
        self.session = session
        self.local = local
        self.pollInterval = pollInterval
    }

    /// Runs until the federation finishes (returns the verified final model) or `deadline` passes (throws).
    /// `submitted(round)` follows each accepted update; `update` may rewrite the trained parameters (simulations use
    /// it to play a malicious client). When the aggregator stops answering or answers with models its attested key
    /// did not sign (its host restarted it, or replaced it), the error says which round the federation last
    /// published to this client and which round to redo with a new aggregator.
    public func run(
        on data: Dataset, deadline: Date, submitted: (Int) -> Void = { _ in },
        update: ([Float], [Float]) -> [Float] = { _, trained in trained }
    ) async throws -> SignedStatement<ModelState> {
        var query: StateQuery?
        var done: Set<Int> = []
        while Date() < deadline {
            let state: SignedStatement<ModelState>
            do {
                state = try await client.state(in: session, waitingFor: query)
            } catch let error as FederationError where error.code == .statementRejected {
                throw lost(afterRound: query?.after ?? 0, submitted: done, because: error.reason)
            } catch let error as AggregatorUnreachable {
                throw lost(afterRound: query?.after ?? 0, submitted: done, because: error.description)
            }
            guard let round = state.header.openRound else { return state }
            if state.header.cohort.contains(session.clientID), !done.contains(round) {
                _ = try await contribute(to: state, on: data, update: update)
                done.insert(round)
                submitted(round)
            } else if let query, state.header.completedRounds <= query.after {
                try await Task.sleep(for: pollInterval)
            }
            query = StateQuery(after: state.header.completedRounds, client: session.clientID)
        }
        throw FederationError(.roundNotReady, "the federation did not finish before the deadline")
    }

    /// Why the federation is lost to this client, and the round to redo: the one after the last it saw published.
    private func lost(afterRound completed: Int, submitted: Set<Int>, because reason: String) -> FederationError {
        let redo = completed + 1
        let held =
            submitted.contains(redo)
            ? "its update for round \(redo) was accepted (it holds the receipt) but never published"
            : "it had sent no update for round \(redo)"
        return FederationError(
            .statementRejected,
            "federation \(session.descriptor.federationID) is gone (its host restarted or replaced the aggregator: \(reason)); the last model it published to this client closed round \(completed), and \(held): redo round \(redo) after attesting the new aggregator"
        )
    }

    /// Trains on `data` from `state` (a global model verified with this session's attested key, whose open round
    /// samples this client), signs and seals the update and submits it; returns the verified receipt.
    public func contribute(
        to state: SignedStatement<ModelState>, on data: Dataset,
        update: ([Float], [Float]) -> [Float] = { _, trained in trained }
    ) async throws -> Receipt {
        guard let round = state.header.openRound else {
            throw FederationError(.roundNotReady, "the federation has finished")
        }
        var model = try session.descriptor.config.model.makeModel()
        model.parameters = state.parameters.map(Double.init)
        let trained = local.train(model, on: data, seed: UInt64(round)).parameters.map(Float.init)
        return try await client.submit(
            update(state.parameters, trained), exampleCount: data.count, round: round, in: session)
    }
}
