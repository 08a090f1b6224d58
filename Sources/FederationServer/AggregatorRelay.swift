import CloisterCBOR
import ConfidentialProtocol
import Dispatch
public import EnclaveProtocol
import Federated
import Synchronization

/// The untrusted host's handle on the aggregator enclave: ECALLs go one at a time (the channel carries one call at
/// a time) on a dedicated thread, so HTTP handlers never block the concurrency pool. It sees only what crosses the
/// channel: ciphertext in, signed statements out. Clients' calls wait in a bounded queue: past `maximumQueuedCalls`
/// calls or `maximumQueuedBytes` of arguments a client's call is refused with `HostBusy` (HTTP 429), so load the
/// host accepted never times out behind load it could not serve. Updates that queue while the enclave is busy go to
/// it together, as one `submitBatch` it opens on every core.
public final class AggregatorRelay: Sendable {
    private struct PendingUpdate {
        let argument: [UInt8]
        let continuation: CheckedContinuation<[UInt8], any Error>
    }

    private let caller: EnclaveCaller
    private let queue = DispatchQueue(label: "cloister.fl.relay")
    private let queued = Mutex<(calls: Int, bytes: Int)>((0, 0))
    /// Updates waiting for the next batch, and whether a batch is scheduled on `queue`.
    private let updates = Mutex<(pending: [PendingUpdate], scheduled: Bool)>(([], false))
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
            queue.async { continuation.resume(with: Result { try self.callRecovering(function, argument) }) }
        }
    }

    /// Calls `function` for a client, or throws `HostBusy` when the queue is full; a client's update
    /// (`FederationCall.submit`) joins the next batch.
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
        guard function == FederationCall.submit else { return try await call(function, argument) }
        return try await withCheckedThrowingContinuation { continuation in
            let schedule = updates.withLock { updates in
                updates.pending.append(PendingUpdate(argument: argument, continuation: continuation))
                defer { updates.scheduled = true }
                return !updates.scheduled
            }
            if schedule { queue.async { self.sendBatch() } }
        }
    }

    /// Sends the updates pending now (up to a batch's bounds) and schedules the next batch behind whatever else
    /// queued meanwhile (quotes, the closer's calls), so updates never starve them.
    private func sendBatch() {
        let batch = updates.withLock { updates -> [PendingUpdate] in
            var bytes = 64
            let count = updates.pending.prefix(FederationCall.maximumBatchCount).prefix { update in
                bytes += update.argument.count + 16
                return bytes <= FederationCall.maximumBatchSize
            }.count
            let batch = Array(updates.pending.prefix(max(count, 1)))
            updates.pending.removeFirst(batch.count)
            updates.scheduled = !updates.pending.isEmpty
            return batch
        }
        defer {
            if updates.withLock({ $0.scheduled }) { queue.async { self.sendBatch() } }
        }
        guard batch.count > 1 else {
            for update in batch {
                update.continuation.resume(with: Result { try callRecovering(FederationCall.submit, update.argument) })
            }
            return
        }
        do {
            let argument = try CBORValue.array(batch.map { .bytes($0.argument) }).encoded()
            let outcomes = try BatchOutcome.decoded(
                callRecovering(FederationCall.submitBatch, argument), count: batch.count)
            for (update, outcome) in zip(batch, outcomes) {
                switch outcome {
                case .receipt(let receipt): update.continuation.resume(returning: receipt)
                case .refused(let refusal): update.continuation.resume(throwing: refusal)
                }
            }
        } catch {
            for update in batch { update.continuation.resume(throwing: error) }
        }
    }

    /// One ECALL on the calling thread, a federation refusal recovered as the `FederationError` it is.
    private func callRecovering(_ function: String, _ argument: [UInt8]) throws -> [UInt8] {
        do {
            return try caller.call(function, argument)
        } catch let error as EnclaveCallError {
            throw FederationError(error) ?? error
        }
    }
}
