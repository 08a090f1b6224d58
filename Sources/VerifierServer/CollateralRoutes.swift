import HTTPTypes
public import Hummingbird
import NIOCore

/// A vendor's collateral service served beside the verifier's API (`cloister serve --collateral`: the simulated
/// platform's Intel PCS v4 and AMD KDS routes): GETs under its path prefixes are answered by `respond`, which the
/// caller supplies, so the service links no simulator.
public struct CollateralRoutes: Sendable {
    /// An answer: the status, the headers (in order) and the body.
    public struct Answer: Sendable {
        public let status: Int
        public let headers: [(name: String, value: String)]
        public let body: [UInt8]

        public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    /// The path prefixes served (`/sgx/certification/v4`), each with every path beneath it.
    public let prefixes: [String]
    /// Answers a GET of `path` with `query` (its decoded parameters).
    public let respond: @Sendable (_ path: String, _ query: [String: String]) -> Answer

    public init(prefixes: [String], respond: @escaping @Sendable (_ path: String, _ query: [String: String]) -> Answer)
    {
        self.prefixes = prefixes
        self.respond = respond
    }

    /// Adds the routes to `router`.
    func add(to router: Router<BasicRequestContext>) {
        for prefix in prefixes {
            router.get(RouterPath(prefix + "/**")) { request, _ -> Response in
                var query: [String: String] = [:]
                for (name, value) in request.uri.queryParameters {
                    query[String(name)] = String(value)
                }
                let answer = respond(request.uri.path, query)
                var fields = HTTPFields()
                for header in answer.headers {
                    if let name = HTTPField.Name(header.name) {
                        fields.append(HTTPField(name: name, value: header.value))
                    }
                }
                return Response(
                    status: HTTPResponse.Status(code: answer.status), headers: fields,
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
            }
        }
    }
}
