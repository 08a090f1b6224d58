import CloisterCBOR
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
    /// The signed global model and round state; with `StateQuery`'s parameters, held until a newer state.
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
    /// The longest the host holds a request for the model (`StateQuery`) before answering with the state it has.
    public static let maximumWait: Duration = .seconds(30)
}

/// What a client waits for when it asks for the global model: a state past `after` completed rounds whose open round
/// samples `client` (any round when nil), or the federation's end. The host holds the request until then (for at
/// most `FederationHTTPAPI.maximumWait`, then it answers with the state it has), so a client learns of its next
/// round without polling and a client outside a round's cohort costs the host nothing but the held request.
public struct StateQuery: Sendable, Hashable {
    public let after: Int
    public let client: String?

    public init(after: Int, client: String?) {
        self.after = after
        self.client = client
    }

    /// The argument of `FederationCall.state` that carries the query (the enclave answers at once and ignores it;
    /// the HTTP transport sends it as the route's query string, `after=N&client=ID`).
    public var argument: [UInt8] {
        var entries = [CBORMapEntry("after", .unsigned(UInt64(max(after, 0))))]
        if let client { entries.append(CBORMapEntry("client", .text(client))) }
        return (try? CBORValue.map(entries).encoded()) ?? []
    }

    /// The query `argument` carries; nil for an empty or other argument.
    public init?(argument: [UInt8]) {
        guard !argument.isEmpty, let value = try? CBORDecoder().decode(argument),
            let after = value[.text("after")]?.uint64Value, after <= UInt64(Int.max)
        else { return nil }
        self.init(after: Int(after), client: value[.text("client")]?.textValue)
    }

    /// True when a state with `completedRounds` completed, finished or not, whose open round samples the clients
    /// `sampled` says, answers this query.
    public func isAnswered(completedRounds: Int, finished: Bool, sampled: (String) -> Bool) -> Bool {
        if finished { return true }
        guard completedRounds > after else { return false }
        return client.map(sampled) ?? true
    }
}
