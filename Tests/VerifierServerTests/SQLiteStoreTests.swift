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

@Suite("SQLite store: sessions")
struct SQLiteSessionTests {
    let path: String

    init() throws {
        path = try TestEnvironment.temporaryDirectory("sessions").appendingPathComponent("v.sqlite").path
    }

    @Test("outstanding sessions are bounded; a used or expired session makes room")
    func outstandingBound() async throws {
        try await SessionStoreChecks.outstandingBound(SQLiteVerifierStore(path: path), start: Date())
    }

    @Test("two stores racing on one database file never pass the bound")
    func racingReplicas() async throws {
        try await SessionStoreChecks.racingReplicas(
            [SQLiteVerifierStore(path: path), SQLiteVerifierStore(path: path)], start: Date())
    }

    @Test("expired sessions are deleted in bounded batches, oldest first, whatever their state")
    func collection() async throws {
        try await SessionStoreChecks.collection(SQLiteVerifierStore(path: path), start: Date())
    }

    @Test("a database of the first schema version keeps its sessions and gains the session indexes on open")
    func migratesVersion1() async throws {
        // The schema as version 1 left it, with one session outstanding.
        try await DatabaseQueue(path: path).write { db in
            for statement in [
                "CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY)",
                "INSERT INTO grdb_migrations VALUES ('v1')",
                """
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY, nonce BYTEA NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
                    state TEXT NOT NULL, result TEXT)
                """,
                "CREATE TABLE policies (id TEXT PRIMARY KEY, document TEXT NOT NULL)",
                "CREATE TABLE reference_values (id TEXT PRIMARY KEY, document TEXT NOT NULL)",
                """
                CREATE TABLE audit_log (sequence INTEGER PRIMARY KEY AUTOINCREMENT, time DOUBLE PRECISION NOT NULL,
                    evidence_sha256 TEXT NOT NULL, format TEXT NOT NULL, status TEXT NOT NULL, policy_id TEXT NOT NULL)
                """,
                "INSERT INTO sessions VALUES ('old', x'01', 4102444800, 'waiting', NULL)",
            ] {
                try db.execute(sql: statement)
            }
        }
        let store = try SQLiteVerifierStore(path: path)
        #expect(try await store.session(id: "old")?.state == .waiting)
        let indexes = try await DatabaseQueue(path: path).read { db in
            try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions'")
        }
        #expect(Set(indexes).isSuperset(of: ["sessions_by_expiry", "sessions_outstanding"]))
        #expect(
            try await store.createSession(
                id: "new", nonce: [2], expiresAt: Date(timeIntervalSince1970: 4_102_444_900), outstandingLimit: 1,
                at: Date(timeIntervalSince1970: 4_102_444_000)) != .created)
    }
}
