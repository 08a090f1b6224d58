import Foundation
import Logging
import Testing
import Verifier
import VerifierServer

/// Two replicas sharing one real PostgreSQL server (started on loopback by scripts/with-postgres, which `make test`
/// runs; the URL arrives in CLOISTER_TEST_POSTGRES_URL).
@Suite(
    "Several replicas on one PostgreSQL",
    .enabled(
        if: ProcessInfo.processInfo.environment["CLOISTER_TEST_POSTGRES_URL"] != nil,
        "no PostgreSQL: run through scripts/with-postgres (make test does)"),
    .serialized)
struct PostgresReplicaTests {
    let url = ProcessInfo.processInfo.environment["CLOISTER_TEST_POSTGRES_URL"] ?? ""
    let logger = Logger(label: "postgres-test")

    @Test("a nonce consumed on one replica is refused on the other; concurrent submissions have one winner")
    func sharedNonces() async throws {
        let fixture = try ServiceFixture()
        let first = fixture.service(store: try await PostgresVerifierStore(url: url, logger: logger))
        let second = fixture.service(store: try await PostgresVerifierStore(url: url, logger: logger))
        try await first.store.putPolicy(Policy(text: fixture.policyJSON))
        let session = try await first.newSession()
        let quote = try fixture.quote(nonce: session.nonce)
        let outcome = try await second.completeSession(id: session.id, evidence: quote, format: nil, policyID: nil)
        let (completed, result) = try outcome.get()
        #expect(result.status == .affirming)
        #expect(completed.state == .complete)
        let replay = try await first.completeSession(id: session.id, evidence: quote, format: nil, policyID: nil)
        #expect(throws: SessionRefusal.self) { try replay.get() }
        #expect(try await first.store.session(id: session.id)?.result == result.token)

        let raced = try await first.newSession()
        let racedQuote = try fixture.quote(nonce: raced.nonce)
        async let one = first.completeSession(id: raced.id, evidence: racedQuote, format: nil, policyID: nil)
        async let other = second.completeSession(id: raced.id, evidence: racedQuote, format: nil, policyID: nil)
        let outcomes = try await [one, other]
        #expect(outcomes.filter { (try? $0.get()) != nil }.count == 1)
        #expect(outcomes.contains { if case .failure(.alreadyUsed) = $0 { true } else { false } })
    }

    @Test("outstanding sessions are bounded; a used or expired session makes room")
    func outstandingBound() async throws {
        try await SessionStoreChecks.outstandingBound(
            PostgresVerifierStore(url: url, logger: logger), start: SessionStoreChecks.start(1))
    }

    @Test("two replicas racing never pass the bound together")
    func racingReplicas() async throws {
        try await SessionStoreChecks.racingReplicas(
            [PostgresVerifierStore(url: url, logger: logger), PostgresVerifierStore(url: url, logger: logger)],
            start: SessionStoreChecks.start(2))
    }

    @Test("expired sessions are deleted in bounded batches, oldest first, whatever their state")
    func collection() async throws {
        try await SessionStoreChecks.collection(
            PostgresVerifierStore(url: url, logger: logger), start: SessionStoreChecks.start(3))
    }

    @Test("policies, reference values and the append-only audit log are shared and behave as on SQLite")
    func sharedState() async throws {
        let store = try await PostgresVerifierStore(url: url, logger: logger)
        let other = try await PostgresVerifierStore(url: url, logger: logger)
        try await store.putPolicy(Policy(id: "replicated", measurements: ["aa"]))
        #expect(try await other.policy(id: "replicated")?.measurements == ["aa"])
        #expect(try await other.deletePolicy(id: "replicated"))
        #expect(try await store.policy(id: "replicated") == nil)
        try await store.putReferenceValues(ReferenceValueSet(id: "set", measurements: ["bb"], signers: []))
        #expect(try await other.referenceValues().map(\.id).contains("set"))
        #expect(try await other.deleteReferenceValues(id: "set"))
        let entry = AuditEntry(
            time: Date(timeIntervalSince1970: 1_700_000_000), evidenceHash: "00", format: "cloister",
            status: "affirming", policyID: "p")
        try await store.appendAudit(entry)
        #expect(try await other.auditEntries(limit: 1).first == entry)
        try await store.ping()
    }
}
