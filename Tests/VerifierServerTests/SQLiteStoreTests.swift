import CloisterTestSupport
import Foundation
import GRDB
import Testing
import VerifierServer

@Suite("SQLite store")
struct SQLiteStoreTests {
    @Test("concurrent audit appends share commits and every row is there when its append returns; rows never change")
    func groupCommit() async throws {
        let path = try TestEnvironment.temporaryDirectory("audit").appendingPathComponent("v.sqlite").path
        let store = try SQLiteVerifierStore(path: path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask {
                    try await store.appendAudit(
                        AuditEntry(
                            time: Date(timeIntervalSince1970: Double(index)), evidenceHash: String(index),
                            format: "cloister", status: "affirming", policyID: "p"))
                }
            }
            try await group.waitForAll()
        }
        let entries = try await store.auditEntries(limit: 1000)
        #expect(entries.count == 200)
        #expect(Set(entries.map(\.evidenceHash)).count == 200)
        let database = try DatabaseQueue(path: path)
        #expect(throws: (any Error).self) { try database.write { try $0.execute(sql: "DELETE FROM audit_log") } }
        #expect(throws: (any Error).self) {
            try database.write { try $0.execute(sql: "UPDATE audit_log SET status = 'affirming-after-all'") }
        }
    }
}
