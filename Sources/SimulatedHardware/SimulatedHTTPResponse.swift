/// One answer of a simulated vendor service (Intel's PCS, AMD's KDS) as a pure value, which an HTTP server writes out
/// as it is: the status, the headers in order, the body. The simulated services are routers, never servers.
public struct SimulatedHTTPResponse: Sendable, Hashable {
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

    /// The value of the first header named `name` (compared without regard to ASCII case), or nil.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public static func == (lhs: SimulatedHTTPResponse, rhs: SimulatedHTTPResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body && lhs.headers.map(\.name) == rhs.headers.map(\.name)
            && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(status)
        hasher.combine(body)
        for header in headers {
            hasher.combine(header.name)
            hasher.combine(header.value)
        }
    }
}
