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
            // The document is fetched here and handed to schemathesis as a file: its own fetch gives up after 10 s,
            // which a machine busy with the other tests can exceed.
            let document = report.appendingPathComponent("openapi.json")
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                try Data(response.body.readableBytesView).write(to: document)
            }
            // Bounded: a fixed seed, 20 examples per operation, 30 s per request; Hypothesis health checks (which
            // time generation) are off, as the machine may be busy with other tests (the checks are about answers,
            // not latency: with the federation suites' thousand-client runs beside it on two cores, 5 s per request
            // timed out a clean-clone run). Run off the concurrency pool,
            // so waiting for schemathesis does not hold a thread the server's handlers need.
            let arguments = [
                "run", document.path, "--url", "http://127.0.0.1:\(port)",
                "--checks",
                "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
                "--max-examples", "20", "--seed", "1", "--request-timeout", "30", "--suppress-health-check", "all",
                "-H", "Authorization: Bearer \(ServiceFixture.adminToken)",
                "--report-dir", report.path, "--no-color",
            ]
            return try await offPool { try runTool(schemathesis, arguments, timeoutSeconds: 600) }
        }
        #expect(output.status == 0, "\(output.standardOutput.suffix(4000))\(output.standardError.suffix(2000))")
    }
}
