public import Foundation
public import Logging
public import ServiceLifecycle

/// Deletes challenge-response sessions some time after they expire, so the store holds only the sessions of the
/// last lifetime and retention, however many were issued. Runs as a service beside the HTTP server until graceful
/// shutdown; each pass deletes a bounded number of sessions in short transactions, so appraisals interleave.
public struct SessionCollector: Service {
    public let store: any VerifierStore
    /// How long after its expiry a session is kept: meanwhile a late submission is answered 410 (expired) rather
    /// than 404, and a completed session's result can still be read.
    public let retention: TimeInterval
    /// The pause between passes.
    public let interval: Duration
    let metrics: ServiceMetrics
    let logger: Logger

    /// The default `retention`, in seconds.
    public static let defaultRetention = 300
    /// The default `interval`, in seconds.
    public static let defaultInterval = 10
    /// Sessions deleted per transaction.
    public static let batchSize = 1_000
    /// Transactions per pass at most: a pass deletes up to `batchSize` × `maximumBatchesPerPass` sessions.
    public static let maximumBatchesPerPass = 100

    public init(
        store: any VerifierStore, retention: TimeInterval = TimeInterval(defaultRetention),
        interval: Duration = .seconds(defaultInterval), metrics: ServiceMetrics, logger: Logger
    ) {
        self.store = store
        self.retention = retention
        self.interval = interval
        self.metrics = metrics
        self.logger = logger
    }

    /// Collects every `interval` until graceful shutdown (or cancellation). A failed pass is logged and retried at
    /// the next one.
    public func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let deleted = try await collect()
                    if deleted > 0 { logger.debug("expired sessions deleted", metadata: ["count": "\(deleted)"]) }
                } catch {
                    logger.warning("collecting expired sessions failed", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One pass: deletes sessions that expired more than `retention` before `time`, at most `batchSize` per
    /// transaction and `maximumBatchesPerPass` transactions; returns how many.
    @discardableResult
    public func collect(at time: Date = Date()) async throws -> Int {
        var total = 0
        for _ in 0..<Self.maximumBatchesPerPass {
            let deleted = try await store.deleteSessions(expiredBefore: time - retention, limit: Self.batchSize)
            total += deleted
            metrics.recordCollectedSessions(deleted)
            if deleted < Self.batchSize { break }
        }
        return total
    }
}
