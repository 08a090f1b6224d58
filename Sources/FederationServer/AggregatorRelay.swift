import ConfidentialProtocol
import Dispatch
public import EnclaveProtocol
import Federated
import Synchronization

/// The untrusted host's handle on the aggregator enclave: ECALLs go one at a time (the channel carries one call at
/// a time) on a dedicated thread, so HTTP handlers never block the concurrency pool. It sees only what crosses the
/// channel: ciphertext in, signed statements out. Clients' calls wait in a bounded queue: past `maximumQueuedCalls`
/// calls or `maximumQueuedBytes` of arguments a client's call is refused with `HostBusy` (HTTP 429), so load the
/// host accepted never times out behind load it could not serve.
public final class AggregatorRelay: Sendable {
    private let caller: EnclaveCaller
    private let queue = DispatchQueue(label: "cloister.fl.relay")
    private let queued = Mutex<(calls: Int, bytes: Int)>((0, 0))
    public let maximumQueuedCalls: Int
    public let maximumQueuedBytes: Int

    public init(caller: EnclaveCaller, maximumQueuedCalls: Int = 256, maximumQueuedBytes: Int = 256 << 20) {
        self.caller = caller
        self.maximumQueuedCalls = maximumQueuedCalls
        self.maximumQueuedBytes = maximumQueuedBytes
    }

    /// Calls `function` in the enclave for the host itself (begin, close), never refused; a federation refusal
    /// comes back as the `FederationError` it is.
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

    /// Calls `function` for a client, or throws `HostBusy` when the queue is full.
    public func relay(_ function: String, _ argument: [UInt8]) async throws -> [UInt8] {
        try queued.withLock { queued throws(HostBusy) in
            guard queued.calls < maximumQueuedCalls, queued.bytes + argument.count <= maximumQueuedBytes else {
                throw HostBusy(
                    reason:
                        "the aggregator has \(queued.calls) calls (\(queued.bytes) bytes) queued; at most \(maximumQueuedCalls) (\(maximumQueuedBytes) bytes)"
                )
            }
            queued.calls += 1
            queued.bytes += argument.count
        }
        defer {
            queued.withLock {
                $0.calls -= 1
                $0.bytes -= argument.count
            }
        }
        return try await call(function, argument)
    }
}
