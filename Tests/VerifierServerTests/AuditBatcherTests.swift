import Foundation
import Synchronization
import Testing

@testable import VerifierServer

@Suite("Audit log group commit")
struct AuditBatcherTests {
    private static func entry(_ index: Int) -> AuditEntry {
        AuditEntry(
            time: Date(timeIntervalSince1970: Double(index)), evidenceHash: String(index), format: "cloister",
            status: "affirming", policyID: "p")
    }

    /// What the fake commits wrote: the rows, and the size of each batch.
    private final class Log: Sendable {
        let state = Mutex<(rows: Set<String>, batches: [Int])>(([], []))
    }

    @Test("each append returns after the commit holding its row; concurrent appends share commits")
    func returnsAfterItsCommit() async throws {
        let committed = Log()
        let batcher = AuditBatcher { entries in
            Thread.sleep(forTimeInterval: 0.002)  // a commit takes a while, so others arrive meanwhile
            committed.state.withLock { state in
                state.rows.formUnion(entries.map(\.evidenceHash))
                state.batches.append(entries.count)
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<300 {
                group.addTask {
                    try await batcher.append(Self.entry(index))
                    #expect(committed.state.withLock { $0.rows.contains(String(index)) })
                }
            }
            try await group.waitForAll()
        }
        let (rows, batches) = committed.state.withLock { ($0.rows, $0.batches) }
        #expect(rows.count == 300)
        #expect(batches.reduce(0, +) == 300)
        #expect(batches.count < 300)
        #expect(batches.allSatisfy { $0 <= AuditBatcher.maximumBatch })
    }

    @Test("a failed commit fails every append in it, and the next commits go on")
    func failedCommit() async throws {
        struct DiskFull: Error {}
        let batcher = AuditBatcher { entries in
            if entries.contains(where: { $0.evidenceHash == "poison" }) { throw DiskFull() }
        }
        await #expect(throws: DiskFull.self) {
            try await batcher.append(
                AuditEntry(
                    time: Date(), evidenceHash: "poison", format: "cloister", status: "affirming", policyID: "p"))
        }
        try await batcher.append(Self.entry(1))
    }
}
