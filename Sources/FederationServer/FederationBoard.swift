public import ConfidentialProtocol
public import Federated
import Foundation
import Synchronization

/// What the host has published for the clients: the enclave's signed federation descriptor, its latest signed model
/// state (read unverified: the host only relays it, every client verifies it) and how many updates the enclave has
/// accepted into the open round. Requests for the model and the round closer wait here for the state to move, so
/// nothing polls the enclave: a state changes only when a round closes, and the board learns of that from the
/// closer.
public final class FederationBoard: Sendable {
    /// The published state as the host reads it.
    public struct Snapshot: Sendable {
        public let signedState: [UInt8]
        public let completedRounds: Int
        public let openRound: Int?
        public let cohort: Set<String>
        /// When the host published it (the round's clock for the closer).
        public let publishedAt: ContinuousClock.Instant
        /// Updates the enclave has accepted into `openRound`, as its receipts count them.
        public fileprivate(set) var accepted = 0

        public var finished: Bool { openRound == nil }

        /// True when this state answers `query`.
        public func answers(_ query: StateQuery) -> Bool {
            query.isAnswered(completedRounds: completedRounds, finished: finished, sampled: cohort.contains)
        }
    }

    private struct Waiter {
        let condition: @Sendable (Snapshot) -> Bool
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var snapshot: Snapshot
        /// Requests waiting for a new state, and the closer waiting for receipts (woken by each receipt too).
        var waiters: [UInt64: Waiter] = [:]
        var progressWaiters: [UInt64: Waiter] = [:]
        var nextWaiter: UInt64 = 0
        /// Waiters that count against `maximumWaiters` (the clients'; not the closer's).
        var boundedWaiters = 0
    }

    /// The signed federation descriptor, fixed once the enclave has begun.
    public let signedDescriptor: [UInt8]
    /// The most client requests that may wait at once; past it a request for the model is refused with 429.
    public let maximumWaiters: Int
    private let state: Mutex<State>

    /// A board for a federation whose enclave signed `descriptor` and, before any round closed, `initialState`.
    public init(signedDescriptor: [UInt8], initialState: [UInt8], maximumWaiters: Int = 65_536)
        throws(FederationError)
    {
        self.signedDescriptor = signedDescriptor
        self.maximumWaiters = maximumWaiters
        state = Mutex(State(snapshot: try Self.read(initialState)))
    }

    /// The state the host publishes now.
    public var snapshot: Snapshot { state.withLock { $0.snapshot } }

    /// Publishes a new signed state (after a round closed) and wakes every request it answers.
    public func publish(_ signedState: [UInt8]) throws(FederationError) {
        let snapshot = try Self.read(signedState)
        wake(all: true) { $0.snapshot = snapshot }
    }

    /// Records the enclave's receipt count for `round` (the receipt is read unverified) and wakes the closer.
    public func recordAccepted(_ count: Int, round: Int) {
        wake(all: false) { state in
            if state.snapshot.openRound == round { state.snapshot.accepted = max(state.snapshot.accepted, count) }
        }
    }

    /// Waits until the published state satisfies `condition`, at most `timeout`, and returns the state then.
    /// A client's request (`bounded`) is checked when a new state is published and counts against
    /// `maximumWaiters` (past it this throws `HostBusy` at once); the closer's (`bounded` false) also at every receipt.
    public func wait(
        timeout: Duration, bounded: Bool = true, until condition: @escaping @Sendable (Snapshot) -> Bool
    ) async throws -> Snapshot {
        let id = try state.withLock { state throws(HostBusy) -> UInt64 in
            if bounded {
                guard state.boundedWaiters < maximumWaiters else {
                    throw HostBusy(reason: "\(maximumWaiters) requests already wait for the next model")
                }
                state.boundedWaiters += 1
            }
            state.nextWaiter += 1
            return state.nextWaiter
        }
        defer {
            if bounded { state.withLock { $0.boundedWaiters -= 1 } }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let ready = self.state.withLock { state in
                            if condition(state.snapshot) || Task.isCancelled { return true }
                            let waiter = Waiter(condition: condition, continuation: continuation)
                            if bounded {
                                state.waiters[id] = waiter
                            } else {
                                state.progressWaiters[id] = waiter
                            }
                            return false
                        }
                        if ready { continuation.resume() }
                    }
                } onCancel: {
                    self.state.withLock { state in
                        state.waiters.removeValue(forKey: id) ?? state.progressWaiters.removeValue(forKey: id)
                    }?.continuation.resume()
                }
            }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
        return snapshot
    }

    /// Applies `change` and resumes every waiter whose condition the new state satisfies: the closer's, and with
    /// `all` the clients' too.
    private func wake(all: Bool, _ change: (inout State) -> Void) {
        let ready = state.withLock { state -> [Waiter] in
            change(&state)
            let snapshot = state.snapshot
            var due = Self.remove(from: &state.progressWaiters) { $0.condition(snapshot) }
            if all { due += Self.remove(from: &state.waiters) { $0.condition(snapshot) } }
            return due
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    private static func remove(from waiters: inout [UInt64: Waiter], where due: (Waiter) -> Bool) -> [Waiter] {
        let ids = waiters.filter { due($0.value) }.map(\.key)
        return ids.compactMap { waiters.removeValue(forKey: $0) }
    }

    private static func read(_ signedState: [UInt8]) throws(FederationError) -> Snapshot {
        let header = try SignedStatement<ModelState>(unverified: signedState, what: "the enclave's model").header
        return Snapshot(
            signedState: signedState, completedRounds: header.completedRounds, openRound: header.openRound,
            cohort: Set(header.cohort), publishedAt: .now)
    }
}

/// The host is at its bound on waiting requests or queued calls: the client should retry after a pause (HTTP 429
/// with `Retry-After`).
public struct HostBusy: Error, Sendable {
    public let reason: String
}

extension FederationBoard {
    /// Begins the federation `config` describes in the enclave behind `relay` and returns the board of what the
    /// enclave signed: its descriptor and the model before the first round.
    public static func begin(_ config: FederationConfig, relay: AggregatorRelay) async throws -> FederationBoard {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let descriptor = try await relay.call(FederationCall.begin, Array(encoder.encode(config)))
        return try FederationBoard(
            signedDescriptor: descriptor, initialState: try await relay.call(FederationCall.state))
    }
}
