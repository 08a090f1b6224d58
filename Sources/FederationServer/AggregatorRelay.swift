import ConfidentialProtocol
import Dispatch
public import EnclaveProtocol
import Federated

/// The untrusted host's handle on the aggregator enclave: ECALLs go one at a time (the channel carries one call at
/// a time) on a dedicated thread, so HTTP handlers never block the concurrency pool. It sees only what crosses the
/// channel: ciphertext in, signed statements out.
public final class AggregatorRelay: Sendable {
    private let caller: EnclaveCaller
    private let queue = DispatchQueue(label: "cloister.fl.relay")

    public init(caller: EnclaveCaller) {
        self.caller = caller
    }

    /// Calls `function` in the enclave; a federation refusal comes back as the `FederationError` it is.
    public func call(_ function: String, _ argument: [UInt8] = []) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    continuation.resume(returning: try self.caller.call(function, argument))
                } catch let error as EnclaveCallError {
                    continuation.resume(throwing: FederationError(error) ?? error)
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
