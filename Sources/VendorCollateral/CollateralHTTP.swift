import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import NIOHTTP1

/// The one HTTP GET every collateral client makes: http and https only, at most `maximumResponseSize` bytes,
/// `requestTimeout` for the whole exchange, every failure naming the URL. Each client turns a `Failure` into its own
/// error (`PCSError`, `KDSError`).
struct CollateralHTTP: Sendable {
    var maximumResponseSize: Int
    var connectTimeout: Duration
    var requestTimeout: Duration

    /// Why a GET gave no 2xx answer within the bounds.
    struct Failure: Error {
        enum Kind {
            /// Not reached, not answered in time, or answered with `status`.
            case unavailable
            /// A 2xx answer too large to read.
            case badResponse
        }

        let kind: Kind
        let message: String
        /// The status of a non-2xx answer, with its `Retry-After` in seconds when it gives one.
        var status: Int? = nil
        var retryAfter: Int? = nil
    }

    /// A 2xx answer: its URL, headers and body.
    struct Answer: Sendable {
        let url: String
        let headers: HTTPHeaders
        let body: [UInt8]
    }

    /// Runs `body` with a client configured with the connect timeout, following at most three redirects.
    func withClient<T: Sendable>(_ body: (HTTPClient) async throws -> T) async throws -> T {
        let configuration = HTTPClient.Configuration(
            redirectConfiguration: .follow(max: 3, allowCycles: false),
            timeout: .init(connect: .nanoseconds(Int64(connectTimeout / .nanoseconds(1)))))
        return try await HTTPClient.withHTTPClient(configuration: configuration, body)
    }

    /// A 2xx answer to `GET url`, whole, within the size and time bounds.
    func get(_ url: String, _ client: HTTPClient) async throws(Failure) -> Answer {
        let limit = maximumResponseSize
        let timeout = requestTimeout
        do {
            return try await withThrowingTaskGroup(of: Answer.self) { group in
                group.addTask {
                    let response = try await client.execute(
                        HTTPClientRequest(url: url), timeout: .seconds(Int64(timeout / .seconds(1))))
                    guard (200..<300).contains(response.status.code) else {
                        throw Failure(
                            kind: .unavailable,
                            message:
                                "GET \(url) answered HTTP \(response.status.code) \(response.status.reasonPhrase)",
                            status: Int(response.status.code),
                            retryAfter: response.headers.first(name: "Retry-After").flatMap(Int.init))
                    }
                    if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > limit {
                        throw Failure(
                            kind: .badResponse,
                            message: "GET \(url): the body of \(length) bytes is over the \(limit)-byte limit")
                    }
                    do {
                        let body = try await response.body.collect(upTo: limit)
                        return Answer(url: url, headers: response.headers, body: Array(buffer: body))
                    } catch is NIOTooManyBytesError {
                        throw Failure(
                            kind: .badResponse, message: "GET \(url): the body is over the \(limit)-byte limit")
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw Failure(kind: .unavailable, message: "GET \(url) did not complete within \(timeout)")
                }
                defer { group.cancelAll() }
                guard let first = try await group.next() else {
                    throw Failure(kind: .unavailable, message: "GET \(url) was cancelled")
                }
                return first
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(kind: .unavailable, message: "GET \(url): \(error)")
        }
    }

    /// Whether `url` is an absolute http or https URL with a host.
    static func isHTTP(_ url: String) -> Bool {
        guard let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            scheme == "http" || scheme == "https",
            let host = parsed.host
        else { return false }
        return !host.isEmpty
    }

    /// `url` without trailing slashes, nil when it has a query or fragment (a base URL takes neither).
    static func baseURL(_ url: String) -> Substring? {
        guard !url.contains("?"), !url.contains("#") else { return nil }
        var base = Substring(url)
        while base.hasSuffix("/") { base = base.dropLast() }
        return base
    }
}
