import AsyncHTTPClient
import Attestation
import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import GRDB
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing
import Verifier
import VerifierServer

/// Kill anywhere, for the verifier service: `cloister serve` is SIGKILLed at a random moment while clients open and
/// complete challenge-response sessions, ask for one-shot appraisals and update a policy, then restarted on the same
/// store. After every kill: the database is whole (SQLite's integrity check), every appraisal a client was answered
/// has its audit row, every session answered is complete and its nonce refused again, a session in flight is either
/// untouched or its nonce stays used, and the policy is the version last answered or one that was in flight: old or
/// new, never anything else.
extension LiveServiceSuites {
    @Suite("Kill anywhere: the verifier service SIGKILLed under load", .serialized)
    struct VerifierKillTests {
        @Test("SQLite: 100 kills, each state old or new")
        func sqlite() async throws {
            let directory = try TestEnvironment.temporaryDirectory("kill-sqlite")
            let path = directory.appendingPathComponent("verifier.sqlite").path
            let tally = try await VerifierKillHarness(database: "sqlite:" + path, directory: directory).run(
                kills: 100,
                audit: { try await SQLiteVerifierStore(path: path).auditEntries(limit: 1 << 30) },
                afterKill: {
                    let check = try DatabaseQueue(path: path).read {
                        try String.fetchAll($0, sql: "PRAGMA integrity_check")
                    }
                    #expect(check == ["ok"], "SQLite's integrity check after a kill")
                })
            print("verifier kill harness, SQLite: \(tally)")
            #expect(tally.broken.isEmpty, "\(tally.broken.prefix(5))")
            #expect(tally.answeredAppraisals > 0 && tally.sessions.new > 0 && tally.policy.new > 0, "\(tally)")
        }

        @Test(
            "PostgreSQL: 50 kills, each state old or new",
            .enabled(
                if: ProcessInfo.processInfo.environment["CLOISTER_TEST_POSTGRES_URL"] != nil,
                "no PostgreSQL: run through scripts/with-postgres (make test does)"))
        func postgres() async throws {
            let url = ProcessInfo.processInfo.environment["CLOISTER_TEST_POSTGRES_URL"] ?? ""
            let directory = try TestEnvironment.temporaryDirectory("kill-postgres")
            let store = try await PostgresVerifierStore(url: url, logger: Logger(label: "kill-test"))
            let tally = try await VerifierKillHarness(database: url, directory: directory).run(
                kills: 50, audit: { try await store.auditEntries(limit: 1 << 30) }, afterKill: {})
            print("verifier kill harness, PostgreSQL: \(tally)")
            #expect(tally.broken.isEmpty, "\(tally.broken.prefix(5))")
            #expect(tally.answeredAppraisals > 0 && tally.sessions.new > 0 && tally.policy.new > 0, "\(tally)")
        }
    }
}

/// What the kills left: per operation, states found old (as before the operation) and new (as after it); what was
/// broken, named.
struct KillTally: CustomStringConvertible {
    var kills = 0
    var sessions = (old: 0, new: 0)
    var policy = (old: 0, new: 0)
    var answeredAppraisals = 0
    var answeredSessions = 0
    var broken: [String] = []

    var description: String {
        "\(kills) kills; sessions in flight old \(sessions.old) / new \(sessions.new); policy old \(policy.old) / new "
            + "\(policy.new); \(answeredAppraisals) answered appraisals, each with its audit row; \(answeredSessions) "
            + "answered sessions, each complete and its nonce refused again; broken \(broken.count)"
    }
}

/// `cloister serve` over one database, driven, killed, restarted and checked.
private struct VerifierKillHarness: Sendable {
    let database: String
    let directory: URL
    let fixture: ServiceFixture
    let policyID = "kill-\(UUID().uuidString.prefix(8).lowercased())"

    init(database: String, directory: URL) throws {
        self.database = database
        self.directory = directory
        fixture = try ServiceFixture()
    }

    /// What clients were answered during one load, and what they sent without an answer.
    private final class Load: Sendable {
        let state = Mutex(Answers())
    }

    private struct Answers: Sendable {
        /// Sessions by id, with the quote on each one's nonce.
        var completedSessions: [String: [UInt8]] = [:]
        var unsettledSessions: [String: [UInt8]] = [:]
        var appraisals: [String] = []
        var policyAnswered: Int?
        var policyAttempted: Set<Int> = []
    }

    func run(
        kills: Int, audit: () async throws -> [AuditEntry], afterKill: () throws -> Void
    ) async throws -> KillTally {
        let token = directory.appendingPathComponent("token").path
        try ServiceFixture.adminToken.write(toFile: token, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: token)
        var server = try await start(token: token)
        #expect(
            try await server.request(.PUT, "/v1/policies/default", body: Array(fixture.policyJSON.utf8), admin: true)
                == 200)
        var tally = KillTally()
        var policyVersion = 0
        var answeredPolicy: Int?
        for _ in 0..<kills {
            let load = Load()
            let first = policyVersion
            policyVersion += 1_000
            try await withThrowingTaskGroup(of: Void.self) { [server] group in
                group.addTask { await sessions(server, into: load) }
                group.addTask { await appraisals(server, into: load) }
                group.addTask { await policies(server, from: first, into: load) }
                try await Task.sleep(for: .milliseconds(Int.random(in: 30...400)))
                kill(server.process.processIdentifier, SIGKILL)
                server.process.waitUntilExit()
                try await group.waitForAll()
            }
            tally.kills += 1
            try afterKill()
            let loaded = load.state.withLock { $0 }
            let rows = Set(try await audit().map(\.evidenceHash))
            for hash in loaded.appraisals where !rows.contains(hash) {
                tally.broken.append("an answered appraisal (evidence \(hash.prefix(16))) has no audit row")
            }
            tally.answeredAppraisals += loaded.appraisals.count
            tally.answeredSessions += loaded.completedSessions.count
            server = try await start(token: token)
            for (id, quote) in loaded.completedSessions {
                let (status, state) = try await server.session(id)
                if status != 200 || state != "complete" {
                    tally.broken.append("session \(id) was answered but reads \(status) \(state ?? "")")
                }
                try await checkNonceUsed(server, id, quote, &tally)
            }
            for (id, quote) in loaded.unsettledSessions {
                let (_, state) = try await server.session(id)
                switch state {
                case "waiting":
                    tally.sessions.old += 1
                case "processing", "complete":
                    tally.sessions.new += 1
                    try await checkNonceUsed(server, id, quote, &tally)
                default:
                    tally.broken.append("session \(id), in flight at the kill, reads \(state ?? "nothing")")
                }
            }
            answeredPolicy = loaded.policyAnswered ?? answeredPolicy
            let stored = try await server.policyVersion(policyID)
            if stored == answeredPolicy {
                tally.policy.old += 1
            } else if let stored, loaded.policyAttempted.contains(stored), stored > (answeredPolicy ?? -1) {
                tally.policy.new += 1
                answeredPolicy = stored
            } else {
                tally.broken.append(
                    "policy \(policyID) reads version \(stored.map(String.init) ?? "none"), not the answered "
                        + "\(answeredPolicy.map(String.init) ?? "none") or one in flight")
            }
        }
        server.process.terminate()
        server.process.waitUntilExit()
        return tally
    }

    /// A session whose nonce was used: submitting its quote again is refused as a replay.
    private func checkNonceUsed(
        _ server: RunningServer, _ id: String, _ quote: [UInt8], _ tally: inout KillTally
    ) async throws {
        let replay = try await server.request(.POST, "/challenge-response/v1/session/\(id)", body: quote, quote: true)
        if replay != 409 { tally.broken.append("session \(id)'s used nonce answered \(replay), not 409") }
    }

    /// Opens sessions and completes each with a quote on its nonce, until the server stops answering.
    private func sessions(_ server: RunningServer, into load: Load) async {
        while let (id, nonce) = try? await server.newSession() {
            await Self.pace()
            guard let quote = try? fixture.quote(nonce: nonce) else { return }
            load.state.withLock { $0.unsettledSessions[id] = quote }
            guard
                let status = try? await server.request(
                    .POST, "/challenge-response/v1/session/\(id)", body: quote, quote: true)
            else { return }
            guard status == 200 else { return }
            load.state.withLock {
                $0.unsettledSessions[id] = nil
                $0.completedSessions[id] = quote
                $0.appraisals.append(hexString(DigestAlgorithm.sha256.hash(quote)))
            }
        }
    }

    /// One-shot appraisals of fresh quotes, until the server stops answering.
    private func appraisals(_ server: RunningServer, into load: Load) async {
        while await Self.pace(), let quote = try? fixture.quote(nonce: SecureRandom.bytes(count: 32)),
            let status = try? await server.request(.POST, "/v1/verify", body: quote, quote: true), status == 200
        {
            load.state.withLock { $0.appraisals.append(hexString(DigestAlgorithm.sha256.hash(quote))) }
        }
    }

    /// New versions of one policy (its `max_age_seconds` is the version), until the server stops answering.
    private func policies(_ server: RunningServer, from first: Int, into load: Load) async {
        for version in first + 1..<first + 1_000 {
            await Self.pace()
            load.state.withLock { _ = $0.policyAttempted.insert(version) }
            let body = "id = \"\(policyID)\"\nallow_simulated = true\nmax_age_seconds = \(version)\n"
            guard
                let status = try? await server.request(
                    .PUT, "/v1/policies/\(policyID)", body: Array(body.utf8), admin: true), status == 200
            else { return }
            load.state.withLock { $0.policyAnswered = version }
        }
    }

    /// A short pause between a client's requests, so the load leaves the machine's other tests their share.
    @discardableResult
    private static func pace() async -> Bool {
        try? await Task.sleep(for: .milliseconds(3))
        return true
    }

    /// Starts `cloister serve` on a free loopback port and waits until it answers `/healthz` (at most 20 s).
    private func start(token: String) async throws -> RunningServer {
        for _ in 0..<5 {
            let port = Int.random(in: 20_000..<40_000)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: cloisterExecutable)
            process.arguments = [
                "serve", "--port", "\(port)", "--db", database, "--admin-token-file", token, "--home",
                fixture.home.path,
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let server = RunningServer(process: process, port: port)
            for _ in 0..<400 where process.isRunning {
                if (try? await server.request(.GET, "/healthz")) == 200 { return server }
                try await Task.sleep(for: .milliseconds(50))
            }
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
        }
        throw StoreError("cloister serve on \(database) did not start answering")
    }
}

/// A running `cloister serve` and the requests the harness makes of it.
private struct RunningServer: Sendable {
    let process: Process
    let port: Int

    func request(
        _ method: HTTPMethod, _ path: String, body: [UInt8] = [], admin: Bool = false, quote: Bool = false
    ) async throws -> Int {
        try await exchange(method, path, body: body, admin: admin, quote: quote).status
    }

    private func exchange(
        _ method: HTTPMethod, _ path: String, body: [UInt8] = [], admin: Bool = false, quote: Bool = false
    ) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if admin { request.headers.add(name: "Authorization", value: "Bearer \(ServiceFixture.adminToken)") }
        if quote { request.headers.add(name: "Content-Type", value: EvidenceFormat.cloister.mediaType) }
        if !body.isEmpty { request.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), Array(buffer: bytes))
    }

    func newSession() async throws -> (id: String, nonce: [UInt8])? {
        let (status, body) = try await exchange(.POST, "/challenge-response/v1/newSession")
        guard status == 201, let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let id = object["id"] as? String,
            let nonce = (object["nonce"] as? String).flatMap({ Data(base64Encoded: $0) })
        else { return nil }
        return (id, Array(nonce))
    }

    /// The session's HTTP status and state.
    func session(_ id: String) async throws -> (Int, String?) {
        let (status, body) = try await exchange(.GET, "/challenge-response/v1/session/\(id)")
        let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return (status, object?["status"] as? String)
    }

    /// The stored policy's version (its `max_age_seconds`), or nil when there is none.
    func policyVersion(_ id: String) async throws -> Int? {
        let (status, body) = try await exchange(.GET, "/v1/policies/\(id)", admin: true)
        guard status == 200 else { return nil }
        let object = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return object?["max_age_seconds"] as? Int
    }
}
