import CloisterTestSupport
import Foundation
import HTTPService
import HTTPTypes
import HummingbirdTesting
import Testing
import VerifierServer

extension LiveServiceSuites {
    @Suite("slow and oversized clients on a live cloister serve: header and idle timeouts, head and body limits")
    struct HTTPTimeoutTests {
        @Test("slow heads are cut off after the header timeout, idle and silent connections after the idle timeout")
        func slowClients() async throws {
            let fixture = try ServiceFixture()
            let header = 1.0
            let idle = 4.0
            let application = fixture.application(
                fixture.service(store: try fixture.sqliteStore()),
                timeouts: HTTPTimeouts(header: .seconds(header), idle: .seconds(idle)))
            let timings = try await application.test(.live) { client in
                try await SlowClientTimings.measure(
                    port: try #require(client.port), path: "/healthz", bound: .seconds(20))
            }
            #expect(timings.violations(header: header, idle: idle) == [], "\(timings)")
        }

        @Test(
            "a head past 80 KB is refused (400, as SwiftNIO answers it) and the service goes on answering; a body past its limit gets 413"
        )
        func oversizedHeads() async throws {
            let fixture = try ServiceFixture()
            let application = fixture.application(fixture.service(store: try fixture.sqliteStore()))
            try await application.test(.live) { client in
                let port = try #require(client.port)
                let (head, body) = try await offPool {
                    let refusedHead = try LoopbackConnection(port: port)
                        .getWithOversizedHead("/healthz", timeout: .seconds(10))
                    let upload = try LoopbackConnection(port: port)
                    let refusedBody = try upload.postRefusedUpload(
                        "/v1/verify", size: VerifierRoutes.maximumEvidenceSize + 1, timeout: .seconds(30))
                    return (refusedHead, refusedBody)
                }
                #expect(head.hasPrefix("HTTP/1.1 400"), "\(head.prefix(200))")
                #expect(body.hasPrefix("HTTP/1.1 413"), "\(body.prefix(200))")
                try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
            }
        }

        @Test("the defaults are 10 s for a head and 60 s idle")
        func defaults() {
            #expect(HTTPTimeouts() == HTTPTimeouts(header: .seconds(10), idle: .seconds(60)))
        }
    }
}
