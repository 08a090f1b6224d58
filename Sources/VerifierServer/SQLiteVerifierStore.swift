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
        migrator.registerMigration("v2") { db in
            for statement in VerifierSchema.version2 { try db.execute(sql: statement) }
        }
        return migrator
    }

    /// Atomic because SQLite runs one write transaction at a time.
    public func createSession(id: String, nonce: [UInt8], expiresAt: Date, outstandingLimit limit: Int, at time: Date)
        async throws -> SessionAdmission
    {
        try await database.write { db in
            try db.execute(
                sql: VerifierSchema.insertSessionBelowLimit,
                arguments: [id, Data(nonce), expiresAt.timeIntervalSince1970, time.timeIntervalSince1970, limit])
            if db.changesCount == 1 { return .created }
            let next = try Double.fetchOne(
                db, sql: VerifierSchema.nextOutstandingExpiry, arguments: [time.timeIntervalSince1970])
            return .full(nextExpiry: next.map(Date.init(timeIntervalSince1970:)) ?? time)
        }
    }

    public func deleteSessions(expiredBefore cutoff: Date, limit: Int) async throws -> Int {
        try await database.write { db in
            try db.execute(sql: VerifierSchema.deleteExpiredSessions, arguments: [cutoff.timeIntervalSince1970, limit])
            return db.changesCount
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
            state: VerifierSchema.sessionState(state), result: row["result"])
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
    /// Indexes for collecting expired sessions and for counting outstanding ones (partial: waiting sessions only, so
    /// a count reads no more entries than the bound allows).
    static let version2 = [
        "CREATE INDEX sessions_by_expiry ON sessions (expires_at)",
        "CREATE INDEX sessions_outstanding ON sessions (expires_at) WHERE state = 'waiting'",
    ]
    /// Inserts the waiting session (id, nonce, expiry) only while fewer than `limit` sessions are outstanding at
    /// `time`; parameters id, nonce, expiry, time, limit. The session statements number their parameters `$1`, `$2`,
    /// … in order of use: PostgreSQL's positional parameters, and SQLite's named ones, which it numbers alike.
    static let insertSessionBelowLimit = """
        INSERT INTO sessions (id, nonce, expires_at, state) SELECT $1, $2, $3, 'waiting'
        WHERE (SELECT COUNT(*) FROM sessions WHERE state = 'waiting' AND expires_at > $4) < $5
        """
    /// When the first session outstanding at `time` (the parameter) expires.
    static let nextOutstandingExpiry =
        "SELECT MIN(expires_at) FROM sessions WHERE state = 'waiting' AND expires_at > $1"
    /// Deletes at most `limit` sessions that expired before `cutoff`, oldest first; parameters cutoff, limit.
    static let deleteExpiredSessions = """
        DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)
        """
    /// The audit log's columns after its sequence number (whose type differs between the databases).
    static let auditColumns = """
        time DOUBLE PRECISION NOT NULL, evidence_sha256 TEXT NOT NULL, format TEXT NOT NULL, status TEXT NOT NULL,
        policy_id TEXT NOT NULL
        """

    /// A session's state as the API shows it, from the `state` column ('waiting', 'consumed' or 'complete').
    static func sessionState(_ stored: String) -> ChallengeSession.State {
        switch stored {
        case "complete": .complete
        case "consumed": .processing
        default: .waiting
        }
    }

    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
