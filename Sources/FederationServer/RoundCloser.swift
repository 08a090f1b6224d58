public import ConfidentialProtocol
import Federated
public import Foundation

/// The host's round clock: asks the enclave to close the open round every `interval` (the enclave decides whether
/// it may: enough updates, or the timeout), and reports each published model, until the federation finishes or
/// `deadline` passes.
public struct RoundCloser: Sendable {
    public let relay: AggregatorRelay
    public let interval: Duration

    public init(relay: AggregatorRelay, interval: Duration = .milliseconds(100)) {
        self.relay = relay
        self.interval = interval
    }

    /// Runs until the federation finishes (returns its final published model), or throws when `deadline` passes or
    /// `proceed` turns false (a simulation whose client failed). `published` sees each new global model as the
    /// enclave signed it (unverified here: the host only reports it).
    public func run(
        until deadline: Date, while proceed: () -> Bool = { true },
        published: (SignedStatement<ModelState>) -> Void = { _ in }
    ) async throws -> SignedStatement<ModelState> {
        while Date() < deadline {
            guard proceed() else { throw CancellationError() }
            try Task.checkCancellation()
            do {
                let state = try SignedStatement<ModelState>(
                    unverified: try await relay.call(FederationCall.close), what: "the enclave's model")
                published(state)
                if state.header.openRound == nil { return state }
            } catch let error as FederationError where error.code == .roundNotReady {
                try await Task.sleep(for: interval)
            }
        }
        throw FederationError(.roundNotReady, "the federation did not finish by \(deadline)")
    }
}
