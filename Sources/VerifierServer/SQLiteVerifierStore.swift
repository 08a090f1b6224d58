public import Foundation
import GRDB
public import Verifier

/// The embedded store: one SQLite database (WAL mode, through GRDB), migrated on open.
public final class SQLiteVerifierStore: VerifierStore {
    public let kind = "sqlite"
    private let database: DatabasePool
    private let audit: AuditBatcher

    /// Opens (creating and migrating) the database at `path`.
    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        let database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
        self.database = database
        audit = AuditBatcher { entries in
            try database.write { db in
                // Prepared once per connection, not parsed again for every row.
                let insert = try db.cachedStatement(
                    sql: """
                        INSERT INTO audit_log (time, evidence_sha256, format, status, policy_id)
                        VALUES (?, ?, ?, ?, ?)
                        """)
                for entry in entries {
                    try insert.execute(
                        arguments: [
                            entry.time.timeIntervalSince1970, entry.evidenceHash, entry.format, entry.status,
                            entry.policyID,
                        ])
                }
            }
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            for statement in VerifierSchema.version1 { try db.execute(sql: statement) }
            try db.execute(
                sql: """
                    CREATE TABLE audit_log (
                        sequence INTEGER PRIMARY KEY AUTOINCREMENT, \(VerifierSchema.auditColumns))
                    """)
            // SQLite cannot revoke rights, so the audit log is made append-only by triggers.
            try db.execute(
                sql: """
                    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
                    """)
            try db.execute(
                sql: """
                    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
                    """)
        }
        return migrator
    }

    public func createSession(id: String, nonce: [UInt8], expiresAt: Date) async throws {
        try await database.write { db in
            try db.execute(
                sql: "INSERT INTO sessions (id, nonce, expires_at, state) VALUES (?, ?, ?, 'waiting')",
                arguments: [id, Data(nonce), expiresAt.timeIntervalSince1970])
        }
    }

    public func consumeSession(id: String, at time: Date) async throws -> Result<ChallengeSession, SessionRefusal> {
        try await database.write { db in
            try db.execute(
                sql: "UPDATE sessions SET state = 'consumed' WHERE id = ? AND state = 'waiting' AND expires_at > ?",
                arguments: [id, time.timeIntervalSince1970])
            let consumed = db.changesCount == 1
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]) else {
                return .failure(.unknown)
            }
            let session = Self.session(row)
            if consumed { return .success(session) }
            return .failure(row["state"] as String == "waiting" ? .expired : .alreadyUsed)
        }
    }

    public func completeSession(id: String, result: String) async throws {
        try await database.write { db in
            try db.execute(
                sql: "UPDATE sessions SET state = 'complete', result = ? WHERE id = ?", arguments: [result, id])
        }
    }

    public func session(id: String) async throws -> ChallengeSession? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id]).map(Self.session)
        }
    }

    private static func session(_ row: Row) -> ChallengeSession {
        let state: String = row["state"]
        return ChallengeSession(
            id: row["id"], nonce: Array(row["nonce"] as Data),
            expiresAt: Date(timeIntervalSince1970: row["expires_at"]),
            state: state == "complete" ? .complete : .waiting, result: row["result"])
    }

    public func putPolicy(_ policy: Policy) async throws {
        let document = try VerifierSchema.encode(policy)
        try await database.write { db in
            try db.execute(
                sql:
                    "INSERT INTO policies (id, document) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET document = excluded.document",
                arguments: [policy.id, document])
        }
    }

    public func policy(id: String) async throws -> Policy? {
        let document = try await database.read { db in
            try String.fetchOne(db, sql: "SELECT document FROM policies WHERE id = ?", arguments: [id])
        }
        return try document.map { try Policy(text: $0) }
    }

    public func policies() async throws -> [Policy] {
        try await database.read { db in try String.fetchAll(db, sql: "SELECT document FROM policies ORDER BY id") }
            .map { try Policy(text: $0) }
    }

    public func deletePolicy(id: String) async throws -> Bool {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM policies WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func putReferenceValues(_ set: ReferenceValueSet) async throws {
        let document = try VerifierSchema.encode(set)
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO reference_values (id, document) VALUES (?, ?)
                    ON CONFLICT (id) DO UPDATE SET document = excluded.document
                    """,
                arguments: [set.id, document])
        }
    }

    public func referenceValues() async throws -> [ReferenceValueSet] {
        try await database.read { db in
            try String.fetchAll(db, sql: "SELECT document FROM reference_values ORDER BY id")
        }.map { try JSONDecoder().decode(ReferenceValueSet.self, from: Data($0.utf8)) }
    }

    public func deleteReferenceValues(id: String) async throws -> Bool {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM reference_values WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    /// Commits with concurrent appends in one transaction (group commit); returns once this entry is durable.
    public func appendAudit(_ entry: AuditEntry) async throws {
        try await audit.append(entry)
    }

    public func auditEntries(limit: Int) async throws -> [AuditEntry] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit_log ORDER BY sequence DESC LIMIT ?", arguments: [limit]
            ).map { row in
                AuditEntry(
                    time: Date(timeIntervalSince1970: row["time"]), evidenceHash: row["evidence_sha256"],
                    format: row["format"], status: row["status"], policyID: row["policy_id"])
            }
        }
    }

    public func ping() async throws {
        _ = try await database.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }
}

/// The schema both stores apply (portable SQL: SQLite and PostgreSQL read it alike), and the JSON documents they
/// keep policies and reference values in.
enum VerifierSchema {
    static let version1 = [
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY, nonce BYTEA NOT NULL, expires_at DOUBLE PRECISION NOT NULL,
            state TEXT NOT NULL, result TEXT)
        """,
        "CREATE TABLE policies (id TEXT PRIMARY KEY, document TEXT NOT NULL)",
        "CREATE TABLE reference_values (id TEXT PRIMARY KEY, document TEXT NOT NULL)",
    ]
    /// The audit log's columns after its sequence number (whose type differs between the databases).
    static let auditColumns = """
        time DOUBLE PRECISION NOT NULL, evidence_sha256 TEXT NOT NULL, format TEXT NOT NULL, status TEXT NOT NULL,
        policy_id TEXT NOT NULL
        """

    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
