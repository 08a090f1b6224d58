public import EnclaveProtocol

/// The aggregator host's HTTP API as both sides know it: the host serves each of the aggregator's functions on its
/// route (`FederationRoutes`), the clients' transport calls it there (`FederationHTTPTransport`). Every body is
/// opaque to the host: quotes, COSE-signed statements and HPKE-sealed updates.
public enum FederationHTTPAPI {
    /// A function's HTTP method and path. A POST carries the call's argument as its body (`application/cbor`).
    public struct Route: Sendable, Hashable {
        public let method: String
        public let path: String

        public var carriesArgument: Bool { method == "POST" }
    }

    /// The enclave's quote on a client's nonce (`cloister.quote`).
    public static let quote = Route(method: "POST", path: "/fl/v1/quote")
    /// The signed federation descriptor.
    public static let descriptor = Route(method: "GET", path: "/fl/v1/federation")
    /// The signed global model and round state.
    public static let state = Route(method: "GET", path: "/fl/v1/model")
    /// A sealed update.
    public static let submit = Route(method: "POST", path: "/fl/v1/updates")

    /// The route of each of the aggregator's functions.
    public static let routes: [String: Route] = [
        EnclaveMain.quoteFunction: quote,
        FederationCall.descriptor: descriptor,
        FederationCall.state: state,
        FederationCall.submit: submit,
    ]

    /// The largest quote request the host accepts.
    public static let maximumQuoteRequestSize = 4 << 10
}
