/// What a simulated vendor's web service answers to one request (its status, headers and body), as a pure value the
/// platform's HTTP server writes out: the simulated services are routers, never servers.
public struct SimulatedHTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A plain-text answer with `status`, e.g. a 404 naming the route that does not exist.
    public static func text(_ status: Int, _ message: String) -> SimulatedHTTPResponse {
        SimulatedHTTPResponse(
            status: status, headers: [(name: "Content-Type", value: "text/plain; charset=utf-8")],
            body: Array((message + "\n").utf8))
    }
}
