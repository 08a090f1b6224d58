import CloisterTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import VerifierServer

/// Property-based API testing of the live service against its own OpenAPI document, by schemathesis (PyPI).
@Suite(
    "schemathesis against /openapi.json on a live server",
    .enabled(if: TestEnvironment.python != nil, "needs the interop venv (make test creates it)"))
struct SchemathesisTests {
    @Test("no request schemathesis generates gets a 5xx, and every response matches the documented schema")
    func conformance() async throws {
        let fixture = try ServiceFixture()
        let python = try #require(TestEnvironment.python)
        let schemathesis = URL(fileURLWithPath: python).deletingLastPathComponent().appendingPathComponent(
            "schemathesis"
        ).path
        let report = try TestEnvironment.temporaryDirectory("schemathesis")
        let output = try await fixture.application(fixture.service(store: fixture.sqliteStore())).test(.live) {
            client in
            let port = try #require(client.port)
            // Bounded: a fixed seed, 20 examples per operation, 5 s per request; Hypothesis health checks (which
            // time generation) are off, as the machine may be busy with other tests.
            return try runTool(
                schemathesis,
                [
                    "run", "http://127.0.0.1:\(port)/openapi.json",
                    "--checks",
                    "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
                    "--max-examples", "20", "--seed", "1", "--request-timeout", "5", "--suppress-health-check", "all",
                    "-H", "Authorization: Bearer \(ServiceFixture.adminToken)",
                    "--report-dir", report.path, "--no-color",
                ],
                timeoutSeconds: 600)
        }
        #expect(output.status == 0, "\(output.standardOutput.suffix(4000))\(output.standardError.suffix(2000))")
    }
}
