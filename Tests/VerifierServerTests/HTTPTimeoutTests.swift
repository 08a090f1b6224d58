import CloisterTestSupport
import Foundation
import HTTPService
import HummingbirdTesting
import Testing
import VerifierServer

@Suite("slow clients on a live cloister serve: header and idle timeouts")
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
            try await SlowClientTimings.measure(port: try #require(client.port), path: "/healthz", bound: .seconds(20))
        }
        #expect(timings.violations(header: header, idle: idle) == [], "\(timings)")
    }

    @Test("the defaults are 10 s for a head and 60 s idle")
    func defaults() {
        #expect(HTTPTimeouts() == HTTPTimeouts(header: .seconds(10), idle: .seconds(60)))
    }
}
