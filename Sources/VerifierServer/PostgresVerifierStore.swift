public import Foundation
public import Logging
import NIOCore
import PostgresNIO
public import Verifier

/// The shared store for several replicas: PostgreSQL through postgres-nio, with the same schema and behaviour as
/// `SQLiteVerifierStore`. Migrations run under an advisory lock, so replicas starting together migrate once;
/// consuming a nonce is one conditional UPDATE, so exactly one replica wins it.
public final class PostgresVerifierStore: VerifierStore {
    public let kind = "postgres"
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger

    /// Connects to `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`, loopback or trusted network; TLS off)
    /// and migrates the schema.
    public init(url: String, logger: Logger) async throws {
        guard let components = URLComponents(string: url),
            components.scheme == "postgres" || components.scheme == "postgresql",
            let host = components.host, let user = components.user
        else {
            throw StoreError("\(url) is not a postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE URL")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        let configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: components.password,
            database: database.isEmpty ? nil : database, tls: .disable)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        runner = Task { await client.run() }
        do {
            try await migrate()
        } catch {
            runner.cancel()
            throw StoreError("PostgreSQL at \(host): \(String(reflecting: error))")
        }
    }

    deinit { runner.cancel() }

    private func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(726300142)", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)", logger: logger)
            var applied: Set<String> = []
            for try await version in try await connection.query(
                "SELECT version FROM schema_migrations", logger: logger
            ).decode(String.self) {
                applied.insert(version)
            }
            for (version, statements) in Self.migrations where !applied.contains(version) {
                for statement in statements + ["INSERT INTO schema_migrations (version) VALUES ('\(version)')"] {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
            }
        }
    }

    /// The schema's versions in order, each applied once.
    private static let migrations: [(version: String, statements: [String])] = [
        (
            "v1",
            VerifierSchema.version1 + [
                "CREATE TABLE audit_log (sequence BIGSERIAL PRIMARY KEY, \(VerifierSchema.auditColumns))",
                """
                CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
                """,
                """
                CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
                FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
                """,
            ]
        ),
        ("v2", VerifierSchema.version2),
    ]

    /// The advisory lock that serialises session inserts across replicas (the migration lock is another).
    private static let sessionLock = 726_300_143

    /// Replicas take one advisory lock for the count and the insert, so concurrent requests on every replica
    /// together never pass the bound.
    public func createSession(id: String, nonce: [UInt8], expiresAt: Date, outstandingLimit limit: Int, at time: Date)
        async throws -> SessionAdmission
    {
        var insert = PostgresBindings()
        insert.append(id)
        insert.append(ByteBuffer(bytes: nonce))
        insert.append(expiresAt.timeIntervalSince1970)
        insert.append(time.timeIntervalSince1970)
        insert.append(limit)
        var now = PostgresBindings()
        now.append(time.timeIntervalSince1970)
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(Self.sessionLock))", logger: logger)
            let inserted = try await connection.query(
                PostgresQuery(unsafeSQL: VerifierSchema.insertSessionBelowLimit + " RETURNING id", binds: insert),
                logger: logger)
            for try await _ in inserted { return .created }
            let next = try await connection.query(
                PostgresQuery(unsafeSQL: VerifierSchema.nextOutstandingExpiry, binds: now), logger: logger)
            for try await expiry in next.decode(Double?.self) {
                return .full(nextExpiry: expiry.map(Date.init(timeIntervalSince1970:)) ?? time)
            }
            return .full(nextExpiry: time)
        }
    }

    public func deleteSessions(expiredBefore cutoff: Date, limit: Int) async throws -> Int {
        var binds = PostgresBindings()
        binds.append(cutoff.timeIntervalSince1970)
        binds.append(limit)
        var count = 0
        let deleted = try await client.query(
            PostgresQuery(unsafeSQL: VerifierSchema.deleteExpiredSessions + " RETURNING id", binds: binds),
            logger: logger)
        for try await _ in deleted { count += 1 }
        return count
    }

    public func consumeSession(id: String, at time: Date) async throws -> Result<ChallengeSession, SessionRefusal> {
        let updated = try await client.query(
            """
            UPDATE sessions SET state = 'consumed'
            WHERE id = \(id) AND state = 'waiting' AND expires_at > \(time.timeIntervalSince1970) RETURNING id
            """, logger: logger)
        var consumed = false
        for try await _ in updated { consumed = true }
        guard let (session, state) = try await sessionRow(id) else { return .failure(.unknown) }
        if consumed { return .success(session) }
        return .failure(state == "waiting" ? .expired : .alreadyUsed)
    }

    public func completeSession(id: String, result: String) async throws {
        try await client.query(
            "UPDATE sessions SET state = 'complete', result = \(result) WHERE id = \(id)", logger: logger)
    }

    public func session(id: String) async throws -> ChallengeSession? {
        try await sessionRow(id)?.session
    }

    private func sessionRow(_ id: String) async throws -> (session: ChallengeSession, state: String)? {
        let rows = try await client.query(
            "SELECT nonce, expires_at, state, result FROM sessions WHERE id = \(id)", logger: logger)
        for try await (nonce, expires, state, result) in rows.decode((ByteBuffer, Double, String, String?).self) {
            let session = ChallengeSession(
                id: id, nonce: Array(nonce.readableBytesView), expiresAt: Date(timeIntervalSince1970: expires),
                state: VerifierSchema.sessionState(state), result: result)
            return (session, state)
        }
        return nil
    }

    public func putPolicy(_ policy: Policy) async throws {
        let document = try VerifierSchema.encode(policy)
        try await client.query(
            """
            INSERT INTO policies (id, document) VALUES (\(policy.id), \(document))
            ON CONFLICT (id) DO UPDATE SET document = excluded.document
            """, logger: logger)
    }

    public func policy(id: String) async throws -> Policy? {
        try await documents("SELECT document FROM policies WHERE id = \(id)").first.map { try Policy(text: $0) }
    }

    public func policies() async throws -> [Policy] {
        try await documents("SELECT document FROM policies ORDER BY id").map { try Policy(text: $0) }
    }

    public func deletePolicy(id: String) async throws -> Bool {
        try await deleted("DELETE FROM policies WHERE id = \(id) RETURNING id")
    }

    public func putReferenceValues(_ set: ReferenceValueSet) async throws {
        let document = try VerifierSchema.encode(set)
        try await client.query(
            """
            INSERT INTO reference_values (id, document) VALUES (\(set.id), \(document))
            ON CONFLICT (id) DO UPDATE SET document = excluded.document
            """, logger: logger)
    }

    public func referenceValues() async throws -> [ReferenceValueSet] {
        try await documents("SELECT document FROM reference_values ORDER BY id").map {
            try JSONDecoder().decode(ReferenceValueSet.self, from: Data($0.utf8))
        }
    }

    public func deleteReferenceValues(id: String) async throws -> Bool {
        try await deleted("DELETE FROM reference_values WHERE id = \(id) RETURNING id")
    }

    public func appendAudit(_ entry: AuditEntry) async throws {
        try await client.query(
            """
            INSERT INTO audit_log (time, evidence_sha256, format, status, policy_id)
            VALUES (\(entry.time.timeIntervalSince1970), \(entry.evidenceHash), \(entry.format), \(entry.status),
                    \(entry.policyID))
            """, logger: logger)
    }

    public func auditEntries(limit: Int) async throws -> [AuditEntry] {
        let rows = try await client.query(
            """
            SELECT time, evidence_sha256, format, status, policy_id FROM audit_log
            ORDER BY sequence DESC LIMIT \(limit)
            """, logger: logger)
        var entries: [AuditEntry] = []
        for try await (time, hash, format, status, policyID) in rows.decode(
            (Double, String, String, String, String).self)
        {
            entries.append(
                AuditEntry(
                    time: Date(timeIntervalSince1970: time), evidenceHash: hash, format: format, status: status,
                    policyID: policyID))
        }
        return entries
    }

    public func ping() async throws {
        try await client.query("SELECT 1", logger: logger)
    }

    private func documents(_ query: PostgresQuery) async throws -> [String] {
        var documents: [String] = []
        for try await document in try await client.query(query, logger: logger).decode(String.self) {
            documents.append(document)
        }
        return documents
    }

    private func deleted(_ query: PostgresQuery) async throws -> Bool {
        var any = false
        for try await _ in try await client.query(query, logger: logger) { any = true }
        return any
    }
}
