/// Group commit for the audit log: appends that arrive while a commit is in flight are written together in the
/// next transaction, so concurrent appraisals share one durable commit (one fsync) instead of paying one each.
/// Every `append` returns only after its own row is committed, so no appraisal is answered before it is logged.
actor AuditBatcher {
    private let commit: @Sendable ([AuditEntry]) async throws -> Void
    private var pending: [(AuditEntry, CheckedContinuation<Void, any Error>)] = []
    private var committing = false

    /// The largest number of rows committed in one transaction.
    static let maximumBatch = 512

    init(commit: @escaping @Sendable ([AuditEntry]) async throws -> Void) {
        self.commit = commit
    }

    func append(_ entry: AuditEntry) async throws {
        try await withCheckedThrowingContinuation { continuation in
            pending.append((entry, continuation))
            if !committing {
                committing = true
                Task { await self.drain() }
            }
        }
    }

    /// Commits batches until nothing is pending.
    private func drain() async {
        while !pending.isEmpty {
            let batch = Array(pending.prefix(Self.maximumBatch))
            pending.removeFirst(batch.count)
            do {
                try await commit(batch.map(\.0))
                for (_, continuation) in batch { continuation.resume() }
            } catch {
                for (_, continuation) in batch { continuation.resume(throwing: error) }
            }
        }
        committing = false
    }
}
