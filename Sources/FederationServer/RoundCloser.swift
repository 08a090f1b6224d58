public import ConfidentialProtocol
public import Federated
public import Foundation

/// The host's round clock: waits on the board until the open round holds the updates it waits for (the smaller of
/// the plan's `minClients` and the round's cohort) or its `roundTimeout` has passed, then asks the enclave to close
/// it (the enclave decides whether it may) and publishes the new model, until the federation finishes or `deadline`
/// passes. Nothing polls: receipts and the round's clock wake it.
public struct RoundCloser: Sendable {
    public let relay: AggregatorRelay
    public let board: FederationBoard
    public let plan: FederationPlan
    /// How long to wait before asking again when the enclave refused to close a round the host thought due (its
    /// clock ran ahead, or a round that timed out holds no update).
    public let retryInterval: Duration

    public init(
        relay: AggregatorRelay, board: FederationBoard, plan: FederationPlan,
        retryInterval: Duration = .milliseconds(200)
    ) {
        self.relay = relay
        self.board = board
        self.plan = plan
        self.retryInterval = retryInterval
    }

    /// Runs until the federation finishes (returns its final published model), or throws when `deadline` passes
    /// or the task is cancelled. `published` sees each new global model as the enclave signed it (unverified here:
    /// the host only reports it).
    public func run(
        until deadline: Date, published: (SignedStatement<ModelState>) -> Void = { _ in }
    ) async throws -> SignedStatement<ModelState> {
        let clock = ContinuousClock()
        let minClients = plan.minClients
        let full: @Sendable (FederationBoard.Snapshot) -> Bool = { $0.accepted >= min(minClients, $0.cohort.count) }
        var notBefore = clock.now
        while Date() < deadline {
            try Task.checkCancellation()
            let current = board.snapshot
            guard let round = current.openRound else {
                return try SignedStatement(unverified: current.signedState, what: "the enclave's model")
            }
            let timedOut = current.publishedAt.advanced(by: .seconds(plan.roundTimeout))
            if clock.now < notBefore {
                try await Task.sleep(until: notBefore, clock: clock)
                continue
            }
            guard full(current) || clock.now >= timedOut else {
                // Woken by the receipt that fills the round or by the new state; at least every second, to see the
                // deadline.
                let wake = min(timedOut, clock.now.advanced(by: .seconds(1)))
                _ = try await board.wait(timeout: clock.now.duration(to: wake), bounded: false) { snapshot in
                    snapshot.openRound != round || full(snapshot)
                }
                continue
            }
            do {
                let signed = try await relay.call(FederationCall.close)
                let state = try SignedStatement<ModelState>(unverified: signed, what: "the enclave's model")
                try board.publish(signed)
                published(state)
            } catch let error as FederationError where error.code == .roundNotReady {
                notBefore = clock.now.advanced(by: retryInterval)
            }
        }
        throw FederationError(.roundNotReady, "the federation did not finish by \(deadline)")
    }
}
