/// One answer of a simulated vendor service (Intel's PCS, AMD's KDS) as a pure value, which an HTTP server writes out
/// as it is: the status, the headers in order, the body.
public struct SimulatedHTTPResponse: Sendable, Hashable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of the first header named `name` (compared without regard to ASCII case), or nil.
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    public static func == (lhs: SimulatedHTTPResponse, rhs: SimulatedHTTPResponse) -> Bool {
        lhs.status == rhs.status && lhs.body == rhs.body && lhs.headers.map(\.0) == rhs.headers.map(\.0)
            && lhs.headers.map(\.1) == rhs.headers.map(\.1)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(status)
        hasher.combine(body)
        for (name, value) in headers {
            hasher.combine(name)
            hasher.combine(value)
        }
    }
}
