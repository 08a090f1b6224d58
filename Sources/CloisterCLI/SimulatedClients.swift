import ConfidentialProtocol
import Federated
import Foundation
import Learning
import RelyingParty
import Synchronization

/// The clients of `fl simulate`, as cheap as they can be: no thread and no connection of their own, and an idle client
/// costs nothing. One client's session watches the rounds (one held request per round, answered when the host
/// publishes a new model, verified with that client's attested key); each round, the clients of its cohort run as
/// tasks, at most `parallel` at once: a client attests the aggregator on its own fresh nonce the first time it is
/// sampled (and takes the shared model only when it attested the key that verified it), then trains, signs, seals
/// and submits exactly as `fl client` does. A straggler whose round closed before its update arrived loses that
/// update, as a real client would.
struct SimulatedClients: Sendable {
    let clients: [FederationClient]
    let shares: [Dataset]
    let local: LocalTraining
    /// The first `malicious` clients send the global model minus 20 times their honest update.
    let malicious: Int
    let parallel: Int
    let attestation: (@Sendable (FederationClient.Transport) async throws -> AttestedEnclave)?

    /// Runs until the federation finishes (returns the final model, verified) or `deadline` passes (throws).
    func run(until deadline: Date) async throws -> SignedStatement<ModelState> {
        let index = Dictionary(
            uniqueKeysWithValues: clients.enumerated().compactMap { offset, client in
                client.clientID.map { ($0, offset) }
            })
        let watcher = try await clients[0].join(attestation: attestation)
        // Every client's session, made the first time it is sampled.
        let sessions = SharedValue<[Int: FederationClient.Session]>([0: watcher])
        var query: StateQuery?
        while Date() < deadline {
            try Task.checkCancellation()
            let state = try await clients[0].state(in: watcher, waitingFor: query)
            if state.header.openRound == nil { return state }
            if query.map({ state.header.completedRounds > $0.after }) ?? true {
                let members = state.header.cohort.compactMap { index[$0] }
                try await contribute(members, to: state, sessions: sessions, watcher: watcher)
            }
            query = StateQuery(after: state.header.completedRounds, client: nil)
        }
        throw FederationError(.roundNotReady, "the federation did not finish before the deadline")
    }

    /// Runs the `members`' contributions to `state`'s round, at most `parallel` at once.
    private func contribute(
        _ members: [Int], to state: SignedStatement<ModelState>, sessions: SharedValue<[Int: FederationClient.Session]>,
        watcher: FederationClient.Session
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            var pending = members.makeIterator()
            func start(_ member: Int) {
                group.addTask {
                    let session: FederationClient.Session
                    if let known = sessions.value.withLock({ $0[member] }) {
                        session = known
                    } else {
                        session = try await clients[member].join(attestation: attestation, alongside: watcher)
                        sessions.value.withLock { $0[member] = session }
                    }
                    let participation = FederatedParticipation(client: clients[member], session: session, local: local)
                    do {
                        _ = try await participation.contribute(to: state, on: shares[member]) { global, trained in
                            guard member < malicious else { return trained }
                            return zip(global, trained).map { g, t in g - 20 * (t - g) }
                        }
                    } catch let error as FederationError where error.code == .staleRound {
                        // A straggler: the round closed without it.
                    }
                }
            }
            for _ in 0..<parallel {
                guard let member = pending.next() else { break }
                start(member)
            }
            while try await group.next() != nil {
                if let member = pending.next() { start(member) }
            }
        }
    }
}
