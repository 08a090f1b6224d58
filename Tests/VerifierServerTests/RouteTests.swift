import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
import Verifier
import VerifierServer

@Suite("HTTP routes over SQLite (HummingbirdTesting)")
struct RouteTests {
    let fixture: ServiceFixture

    init() throws {
        fixture = try ServiceFixture()
    }

    private func provisionDefault(_ client: some TestClientProtocol) async throws {
        try await client.execute(
            uri: "/v1/policies/default", method: .put, headers: ServiceFixture.admin,
            body: ByteBuffer(string: fixture.policyJSON)
        ) { response in
            #expect(response.status == .ok)
        }
    }

    @Test("challenge-response: a session's nonce verifies once; a replay is refused with 409")
    func challengeResponse() async throws {
        let store = try fixture.sqliteStore()
        try await fixture.application(fixture.service(store: store)).test(.router) { client in
            try await provisionDefault(client)
            let session = try await client.execute(uri: "/challenge-response/v1/newSession", method: .post) {
                response in
                #expect(response.status == .created)
                #expect(response.headers[.location]?.hasPrefix("/challenge-response/v1/session/") == true)
                return response.body.json
            }
            let id = try #require(session["id"] as? String)
            let nonce = try #require(Data(base64Encoded: session["nonce"] as? String ?? ""))
            #expect(nonce.count == 32)
            #expect(session["status"] as? String == "waiting")
            let quote = try fixture.quote(nonce: Array(nonce))
            try await client.execute(
                uri: "/challenge-response/v1/session/\(id)", method: .post, headers: ServiceFixture.quoteType,
                body: ByteBuffer(bytes: quote)
            ) { response in
                #expect(response.status == .ok)
                let body = response.body.json
                #expect(body["status"] as? String == "complete")
                #expect((body["appraisal"] as? [String: Any])?["status"] as? String == "affirming")
                #expect((body["result"] as? String)?.split(separator: ".").count == 3)
            }
            try await client.execute(uri: "/challenge-response/v1/session/\(id)", method: .get) { response in
                #expect(response.body.json["status"] as? String == "complete")
            }
            try await client.execute(
                uri: "/challenge-response/v1/session/\(id)", method: .post, headers: ServiceFixture.quoteType,
                body: ByteBuffer(bytes: quote)
            ) { response in
                #expect(response.status == .conflict)
                #expect((response.body.json["error"] as? [String: Any])?["code"] as? String == "nonce-used")
            }
            try await client.execute(
                uri: "/challenge-response/v1/session/no-such-session", method: .post,
                headers: ServiceFixture.quoteType, body: ByteBuffer(bytes: quote)
            ) { response in
                #expect(response.status == .notFound)
            }
        }
        let audit = try await store.auditEntries(limit: 10)
        #expect(audit.count == 1)
        #expect(audit.first?.status == "affirming")
        #expect(audit.first?.policyID == "default")
    }

    @Test("an expired session is refused with 410, and a quote carrying another nonce is contraindicated")
    func expiredAndWrongNonce() async throws {
        let store = try fixture.sqliteStore()
        // Sessions issued by a replica with a lifetime of one millisecond are expired by the time they are used.
        let expired = try await fixture.service(store: store, sessionLifetime: 0.001).newSession()
        try await Task.sleep(for: .milliseconds(5))
        // Kept for a day after expiry: on a loaded machine minutes can pass before the submission, and a session
        // collected by then would be unknown (404), not expired (410).
        try await fixture.application(fixture.service(store: store), sessionRetention: 86_400).test(.router) { client in
            try await provisionDefault(client)
            let waiting = try await client.execute(uri: "/challenge-response/v1/newSession", method: .post) {
                $0.body.json["id"] as? String ?? ""
            }
            try await client.execute(
                uri: "/challenge-response/v1/session/\(waiting)", method: .post, headers: ServiceFixture.quoteType,
                body: ByteBuffer(bytes: fixture.quote(nonce: [1, 2, 3]))
            ) { response in
                #expect(response.status == .ok)
                let appraisal = response.body.json["appraisal"] as? [String: Any]
                #expect(appraisal?["status"] as? String == "contraindicated")
            }
            try await client.execute(
                uri: "/challenge-response/v1/session/\(expired.id)", method: .post, headers: ServiceFixture.quoteType,
                body: ByteBuffer(bytes: fixture.quote(nonce: expired.nonce))
            ) { response in
                #expect(response.status == .gone, "\(String(buffer: response.body))")
            }
        }
    }

    @Test("a submission refused before appraisal leaves the session waiting, and the retry is appraised")
    func refusalsKeepTheNonce() async throws {
        try await fixture.application(fixture.service(store: fixture.sqliteStore())).test(.router) { client in
            try await provisionDefault(client)
            let session = try await client.execute(uri: "/challenge-response/v1/newSession", method: .post) {
                $0.body.json
            }
            let id = try #require(session["id"] as? String)
            let nonce = try #require(Data(base64Encoded: session["nonce"] as? String ?? ""))
            let quote = try fixture.quote(nonce: Array(nonce))
            let path = "/challenge-response/v1/session/\(id)"
            let refusals: [(String, HTTPFields, [UInt8], HTTPResponse.Status, String)] = [
                ("?policy=does-not-exist", ServiceFixture.quoteType, quote, .notFound, "unknown-policy"),
                ("", ServiceFixture.quoteType, [0xd2, 0x84, 0x40], .unprocessableContent, "malformed-evidence"),
                ("", [.contentType: "text/plain"], quote, .unsupportedMediaType, "unsupported-media-type"),
                (
                    "", ServiceFixture.quoteType,
                    [UInt8](repeating: 0xa0, count: VerifierRoutes.maximumEvidenceSize + 1),
                    .contentTooLarge, "body-too-large"
                ),
            ]
            for (query, headers, body, status, code) in refusals {
                try await client.execute(
                    uri: path + query, method: .post, headers: headers, body: ByteBuffer(bytes: body)
                ) { response in
                    #expect(response.status == status, "\(code)")
                    #expect((response.body.json["error"] as? [String: Any])?["code"] as? String == code)
                }
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.body.json["status"] as? String == "waiting", "after \(code)")
                }
            }
            try await client.execute(
                uri: path, method: .post, headers: ServiceFixture.quoteType, body: ByteBuffer(bytes: quote)
            ) { response in
                #expect(response.status == .ok)
                #expect(response.body.json["status"] as? String == "complete")
                #expect((response.body.json["appraisal"] as? [String: Any])?["status"] as? String == "affirming")
            }
        }
    }

    @Test("past the bound of outstanding sessions newSession is 503 with Retry-After; a used session makes room")
    func outstandingBound() async throws {
        let service = fixture.service(store: try fixture.sqliteStore(), maximumOutstandingSessions: 2)
        try await fixture.application(service).test(.router) { client in
            try await provisionDefault(client)
            var sessions: [[String: Any]] = []
            for _ in 0..<2 {
                sessions.append(
                    try await client.execute(uri: "/challenge-response/v1/newSession", method: .post) { response in
                        #expect(response.status == .created)
                        return response.body.json
                    })
            }
            try await client.execute(uri: "/challenge-response/v1/newSession", method: .post) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.contentType] == "application/json")
                let seconds = try #require(response.headers[.retryAfter].flatMap { Int($0) })
                #expect((1...300).contains(seconds))
                let error = response.body.json["error"] as? [String: Any]
                #expect(error?["code"] as? String == "too-many-sessions")
                #expect((error?["message"] as? String)?.contains("2 sessions are outstanding") == true)
            }
            let id = try #require(sessions[0]["id"] as? String)
            let nonce = try #require(Data(base64Encoded: sessions[0]["nonce"] as? String ?? ""))
            try await client.execute(
                uri: "/challenge-response/v1/session/\(id)", method: .post, headers: ServiceFixture.quoteType,
                body: ByteBuffer(bytes: fixture.quote(nonce: Array(nonce)))
            ) { #expect($0.status == .ok) }
            try await client.execute(uri: "/challenge-response/v1/newSession", method: .post) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(String(buffer: response.body).contains("cloister_sessions_refused_total 1"))
            }
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                let newSession = (response.body.json["paths"] as? [String: Any])?["/challenge-response/v1/newSession"]
                let responses = ((newSession as? [String: Any])?["post"] as? [String: Any])?["responses"]
                let refused = (responses as? [String: Any])?["503"] as? [String: Any]
                #expect((refused?["headers"] as? [String: Any])?["Retry-After"] != nil)
            }
        }
    }

    @Test("sessions are deleted once expired past their retention, by the collector running beside the server")
    func collection() async throws {
        let store = try fixture.sqliteStore()
        let now = Date()
        let expired = try await fixture.service(store: store, sessionLifetime: 1).newSession(at: now - 10)
        let collector = SessionCollector(
            store: store, retention: 60, metrics: ServiceMetrics(), logger: Logger(label: "test"))
        #expect(try await collector.collect(at: now) == 0)
        #expect(try await collector.collect(at: now + 60) == 1)
        #expect(try await store.session(id: expired.id) == nil)

        let shortLived = try await fixture.service(store: store, sessionLifetime: 0.05).newSession()
        let application = fixture.application(
            fixture.service(store: store), sessionRetention: 0, collectionInterval: .milliseconds(50))
        try await application.test(.router) { client in
            let waiting = try await client.execute(uri: "/challenge-response/v1/newSession", method: .post) {
                $0.body.json["id"] as? String ?? ""
            }
            var status = HTTPResponse.Status.ok
            for _ in 0..<200 where status != .notFound {
                try await Task.sleep(for: .milliseconds(50))
                status = try await client.execute(uri: "/challenge-response/v1/session/\(shortLived.id)", method: .get)
                {
                    $0.status
                }
            }
            #expect(status == .notFound)
            try await client.execute(uri: "/challenge-response/v1/session/\(waiting)", method: .get) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(String(buffer: response.body).contains("cloister_sessions_collected_total 1"))
            }
        }
    }

    @Test("one-shot verify: affirming with the right policy and nonce; errors are JSON 4xx, never 5xx")
    func verify() async throws {
        try await fixture.application(fixture.service(store: fixture.sqliteStore())).test(.router) { client in
            try await provisionDefault(client)
            let quote = try fixture.quote(nonce: [0xaa, 0xbb])
            try await client.execute(
                uri: "/v1/verify?nonce=aabb", method: .post, headers: ServiceFixture.quoteType,
                body: ByteBuffer(bytes: quote)
            ) { response in
                #expect(response.status == .ok)
                #expect(response.body.json["status"] as? String == "affirming")
                #expect(response.body.json["policy_id"] as? String == "default")
            }
            try await client.execute(uri: "/v1/verify?nonce=aabc", method: .post, body: ByteBuffer(bytes: quote)) {
                #expect($0.body.json["status"] as? String == "contraindicated")
            }
            let cases: [(String, HTTPFields, ByteBuffer, HTTPResponse.Status)] = [
                ("/v1/verify?policy=missing", ServiceFixture.quoteType, ByteBuffer(bytes: quote), .notFound),
                ("/v1/verify?nonce=zz", ServiceFixture.quoteType, ByteBuffer(bytes: quote), .badRequest),
                ("/v1/verify", [.contentType: "text/plain"], ByteBuffer(bytes: quote), .unsupportedMediaType),
                (
                    "/v1/verify", ServiceFixture.quoteType, ByteBuffer(bytes: [UInt8](repeating: 0xa0, count: 70_000)),
                    .contentTooLarge
                ),
                ("/v1/verify", ServiceFixture.quoteType, ByteBuffer(bytes: [0xd2, 0x84, 0x40]), .unprocessableContent),
                ("/v1/verify", ServiceFixture.quoteType, ByteBuffer(), .unprocessableContent),
            ]
            for (uri, headers, body, status) in cases {
                try await client.execute(uri: uri, method: .post, headers: headers, body: body) { response in
                    #expect(response.status == status, "\(uri)")
                    #expect(response.headers[.contentType] == "application/json")
                    #expect((response.body.json["error"] as? [String: Any])?["message"] is String)
                }
            }
        }
    }

    @Test("provisioning needs the bearer token; policies and reference values round-trip")
    func provisioning() async throws {
        try await fixture.application(fixture.service(store: fixture.sqliteStore())).test(.router) { client in
            for headers: HTTPFields in [
                [:], [.authorization: "Bearer wrong-token-0123456789"], [.authorization: "Basic x"],
            ] {
                try await client.execute(uri: "/v1/policies", method: .get, headers: headers) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                }
            }
            try await client.execute(
                uri: "/v1/policies/strict", method: .put, headers: ServiceFixture.admin,
                body: ByteBuffer(string: "id = \"strict\"\nallow_debug = true\n")
            ) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(
                uri: "/v1/policies/other", method: .put, headers: ServiceFixture.admin,
                body: ByteBuffer(string: "id = \"strict\"")
            ) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(
                uri: "/v1/policies/bad", method: .put, headers: ServiceFixture.admin,
                body: ByteBuffer(string: "id = \"bad\"\nallow_everything = true")
            ) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("allow_everything"))
            }
            try await client.execute(uri: "/v1/policies", method: .get, headers: ServiceFixture.admin) { response in
                #expect(response.body.jsonArray.count == 1)
            }
            try await client.execute(uri: "/v1/policies/strict", method: .get, headers: ServiceFixture.admin) {
                #expect($0.body.json["allow_debug"] as? Bool == true)
            }
            try await client.execute(uri: "/v1/policies/strict", method: .delete, headers: ServiceFixture.admin) {
                #expect($0.status == .noContent)
            }
            try await client.execute(uri: "/v1/policies/strict", method: .delete, headers: ServiceFixture.admin) {
                #expect($0.status == .notFound)
            }
            // A policy without reference values affirms once the measurement is provisioned as a reference value.
            try await client.execute(
                uri: "/v1/policies/default", method: .put, headers: ServiceFixture.admin,
                body: ByteBuffer(string: #"{"id": "default", "allow_simulated": true, "allow_development_keys": true}"#)
            ) { #expect($0.status == .ok) }
            let quote = try fixture.quote(nonce: nil)
            try await client.execute(
                uri: "/v1/verify", method: .post, headers: ServiceFixture.quoteType, body: ByteBuffer(bytes: quote)
            ) {
                #expect($0.body.json["status"] as? String == "contraindicated")
            }
            try await client.execute(
                uri: "/v1/reference-values/echo", method: .put, headers: ServiceFixture.admin,
                body: ByteBuffer(string: #"{"measurements": ["\#(fixture.measurementHex)"]}"#)
            ) { #expect($0.status == .ok) }
            let refusedValues: [(id: String, body: String, reason: String)] = [
                ("broken", #"{"measurements": ["xyz"]}"#, "in hex"),
                (
                    "extra", #"{"measurements": ["\#(fixture.measurementHex)"], "signer": ["00"]}"#,
                    #"unknown key "signer""#
                ),
                ("..", #"{"measurements": ["\#(fixture.measurementHex)"]}"#, "not a policy id"),
                (".", #"{"measurements": ["\#(fixture.measurementHex)"]}"#, "not a policy id"),
            ]
            for refused in refusedValues {
                try await client.execute(
                    uri: "/v1/reference-values/\(refused.id)", method: .put, headers: ServiceFixture.admin,
                    body: ByteBuffer(string: refused.body)
                ) {
                    #expect($0.status == .badRequest, "\(refused.id)")
                    let error = $0.body.json["error"] as? [String: Any]
                    #expect(error?["code"] as? String == "invalid-reference-values")
                    #expect((error?["message"] as? String)?.contains(refused.reason) == true, "\($0.body.json)")
                }
            }
            try await client.execute(
                uri: "/v1/verify", method: .post, headers: ServiceFixture.quoteType, body: ByteBuffer(bytes: quote)
            ) {
                #expect($0.body.json["status"] as? String == "affirming")
            }
            try await client.execute(uri: "/v1/reference-values", method: .get, headers: ServiceFixture.admin) {
                #expect($0.body.jsonArray.count == 1)
            }
            try await client.execute(uri: "/v1/reference-values/echo", method: .delete, headers: ServiceFixture.admin) {
                #expect($0.status == .noContent)
            }
        }
    }

    @Test("a policy whose values are out of range or duplicated is a 400 naming the key, and the service lives on")
    func policyValuesRefused() async throws {
        try await fixture.application(fixture.service(store: fixture.sqliteStore())).test(.router) { client in
            let refused: [(String, String)] = [
                ("id = \"x\"\n[[products]]\nproduct_id = 70000\n", #""products[0].product_id" must be"#),
                ("id = \"x\"\n[[products]]\nproduct_id = -1\n", #""products[0].product_id" must be"#),
                ("id = \"x\"\n[[products]]\nproduct_id = 1\nmin_svn = 65536\n", #""products[0].min_svn" must be"#),
                (#"{"id": "x", "products": [{"product_id": 1e30}]}"#, #""products[0].product_id" must be"#),
                (#"{"id": "x", "max_age_seconds": 99999999999999999999}"#, #""max_age_seconds" must be"#),
                (
                    #"{"id": "x", "allow_simulated": false, "allow_simulated": true}"#,
                    #"duplicate key "allow_simulated""#
                ),
                (#"{"id": ".."}"#, "is not a policy id"),
            ]
            for (body, mention) in refused {
                try await client.execute(
                    uri: "/v1/policies/x", method: .put, headers: ServiceFixture.admin, body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .badRequest, "\(body)")
                    let error = response.body.json["error"] as? [String: Any]
                    #expect(error?["code"] as? String == "invalid-policy")
                    #expect((error?["message"] as? String)?.contains(mention) == true, "\(error ?? [:])")
                }
            }
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            try await client.execute(
                uri: "/v1/policies/x", method: .put, headers: ServiceFixture.admin,
                body: ByteBuffer(string: "id = \"x\"\nmax_age_seconds = \"unlimited\"\n")
            ) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/policies/x", method: .get, headers: ServiceFixture.admin) {
                #expect($0.body.json["max_age_seconds"] as? String == "unlimited")
            }
        }
    }

    @Test("health, JWKS, metrics and the OpenAPI document describing every route")
    func documents() async throws {
        try await fixture.application(fixture.service(store: fixture.sqliteStore())).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.body.json["store"] as? String == "sqlite")
            }
            try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response in
                let keys = response.body.json["keys"] as? [[String: Any]]
                #expect(keys?.first?["kid"] as? String == fixture.signer.keyID)
                #expect(keys?.first?["crv"] as? String == "P-256")
            }
            try await provisionDefault(client)
            try await client.execute(
                uri: "/v1/verify", method: .post, headers: ServiceFixture.quoteType,
                body: ByteBuffer(bytes: fixture.quote(nonce: nil))
            ) { #expect($0.status == .ok) }
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(text.contains(#"cloister_appraisals_total{status="affirming"} 1"#))
                #expect(text.contains("cloister_appraisal_duration_seconds_bucket"))
            }
            let paths = try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.body.json["openapi"] as? String == "3.0.3")
                return Set((response.body.json["paths"] as? [String: Any] ?? [:]).keys)
            }
            #expect(
                paths == [
                    "/healthz", "/metrics", "/openapi.json", "/.well-known/jwks.json",
                    "/challenge-response/v1/newSession", "/challenge-response/v1/session/{id}", "/v1/verify",
                    "/v1/policies", "/v1/policies/{id}", "/v1/reference-values", "/v1/reference-values/{id}",
                ])
        }
    }

    @Test(
        "the EAR a service returns verifies with PyJWT against the service's JWKS",
        .enabled(if: TestEnvironment.python != nil, "needs the interop venv (make test creates it)"))
    func earWithPyJWT() async throws {
        let (token, jwks) = try await fixture.application(fixture.service(store: fixture.sqliteStore())).test(.router) {
            client in
            try await provisionDefault(client)
            let token = try await client.execute(
                uri: "/v1/verify", method: .post, headers: ServiceFixture.quoteType,
                body: ByteBuffer(bytes: fixture.quote(nonce: nil))
            ) { $0.body.json["ear"] as? String ?? "" }
            let jwks = try await client.execute(uri: "/.well-known/jwks.json", method: .get) { String(buffer: $0.body) }
            return (token, jwks)
        }
        let file = try TestEnvironment.temporaryDirectory("jwks").appendingPathComponent("jwks.json")
        try Data(jwks.utf8).write(to: file)
        let python = try #require(TestEnvironment.python)
        let output = try runTool(
            python, [TestEnvironment.interopScript("verify_ear.py"), "--token", token, "--jwks", file.path])
        #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
    }
}
