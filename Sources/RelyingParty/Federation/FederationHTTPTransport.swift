public import AsyncHTTPClient
import CloisterErrors
public import ConfidentialProtocol
public import Federated
public import Foundation
import NIOCore
import NIOHTTP1

/// A client's transport to an aggregator host over HTTP (`FederationHTTPAPI`): each function is one request on
/// `http`'s pooled connections, so thousands of clients share a few sockets and no thread waits for an answer. A
/// JSON error reply comes back as the `FederationError` it names; a 429 (the host's queue is full) is retried after
/// its `Retry-After`, for at most `busyLimit` in all.
public struct FederationHTTPTransport: Sendable {
    public let server: URL
    public let http: HTTPClient
    /// The longest one request may take (a long-poll of the model waits up to `FederationHTTPAPI.maximumWait`).
    public let timeout: Duration
    /// How long a call keeps honouring 429 answers before it gives up.
    public let busyLimit: Duration

    public init(
        server: URL, http: HTTPClient = .shared, timeout: Duration = .seconds(120), busyLimit: Duration = .seconds(600)
    ) {
        self.server = server
        self.http = http
        self.timeout = timeout
        self.busyLimit = busyLimit
    }

    /// The largest answer a client reads: a signed model of `FederationCall.maximumParameterCount` parameters, its
    /// header and cohort.
    public static let maximumAnswerSize = 32 << 20

    public func call(_ function: String, _ argument: [UInt8]) async throws -> [UInt8] {
        guard let route = FederationHTTPAPI.routes[function] else {
            throw FederationError(.protocolViolation, "the aggregator host has no route for '\(function)'")
        }
        var target = server.appendingPathComponent(route.path).absoluteString
        if !route.carriesArgument, let query = StateQuery(argument: argument) {
            target += "?after=\(query.after)"
            if let client = query.client {
                target += "&client=" + (client.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? client)
            }
        }
        let endpoint = "\(route.method) \(route.path)"
        var request = HTTPClientRequest(url: target)
        request.method = HTTPMethod(rawValue: route.method)
        if route.carriesArgument {
            request.body = .bytes(ByteBuffer(bytes: argument))
            request.headers.add(name: "Content-Type", value: "application/cbor")
        }
        let clock = ContinuousClock()
        let giveUp = clock.now.advanced(by: busyLimit)
        while true {
            let response: HTTPClientResponse
            let body: ByteBuffer
            do {
                response = try await http.execute(request, timeout: .nanoseconds(Int64(timeout / .nanoseconds(1))))
                body = try await response.body.collect(upTo: Self.maximumAnswerSize)
            } catch let error as CancellationError {
                throw error
            } catch {
                throw AggregatorUnreachable(endpoint: endpoint, server: server, underlying: error)
            }
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return Array(buffer: body) }
            if status == 429 {
                let pause = Duration.seconds(response.headers.first(name: "Retry-After").flatMap(Int.init) ?? 1)
                if clock.now.advanced(by: pause) < giveUp {
                    try await Task.sleep(for: pause)
                    continue
                }
            }
            throw Self.refusal(endpoint: endpoint, status: status, body: Array(buffer: body))
        }
    }

    /// The federation error a JSON error reply names (`{"error": {"code", "message"}}`).
    private static func refusal(endpoint: String, status: Int, body: [UInt8]) -> FederationError {
        struct Reply: Decodable {
            struct Detail: Decodable {
                let code: String
                let message: String
            }
            let error: Detail
        }
        guard let reply = try? JSONDecoder().decode(Reply.self, from: Data(body)) else {
            return FederationError(.protocolViolation, "\(endpoint) answered HTTP \(status)")
        }
        return FederationError(named: reply.error.code, "\(endpoint) answered HTTP \(status): \(reply.error.message)")
    }
}

/// The aggregator host could not be reached or did not answer in time.
public struct AggregatorUnreachable: Error, CustomStringConvertible {
    public let endpoint: String
    public let server: URL
    public let underlying: any Error

    public var description: String { "\(endpoint) on \(server.absoluteString) failed: \(underlying)" }
}
