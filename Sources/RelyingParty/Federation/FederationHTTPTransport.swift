import CloisterCrypto
import CloisterErrors
import ConfidentialProtocol
import Dispatch
import Federated
public import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A client's transport to an aggregator host over HTTP (`FederationHTTPAPI`): each function is one request; a
/// JSON error reply comes back as the `FederationError` it names.
public struct FederationHTTPTransport: Sendable {
    public let server: URL
    public let timeout: TimeInterval

    public init(server: URL, timeout: TimeInterval = 60) {
        self.server = server
        self.timeout = timeout
    }

    public func call(_ function: String, _ argument: [UInt8]) throws -> [UInt8] {
        guard let route = FederationHTTPAPI.routes[function] else {
            throw FederationError(.protocolViolation, "the aggregator host has no route for '\(function)'")
        }
        var request = URLRequest(url: server.appendingPathComponent(route.path), timeoutInterval: timeout)
        request.httpMethod = route.method
        if route.carriesArgument {
            request.httpBody = Data(argument)
            request.setValue("application/cbor", forHTTPHeaderField: "Content-Type")
        }
        let (data, status) = try HTTPExchange.send(request)
        guard (200..<300).contains(status) else {
            struct Reply: Decodable {
                struct Detail: Decodable {
                    let code: String
                    let message: String
                }
                let error: Detail
            }
            let endpoint = "\(route.method) \(route.path)"
            guard let reply = try? JSONDecoder().decode(Reply.self, from: data) else {
                throw FederationError(.protocolViolation, "\(endpoint) answered HTTP \(status)")
            }
            let code = FederationError.Code.all.first { $0.rawValue == reply.error.code } ?? .protocolViolation
            throw FederationError(code, "\(endpoint) answered HTTP \(status): \(reply.error.message)")
        }
        return Array(data)
    }
}

/// One HTTP request, waited for (the clients' protocols are sequential; they run off the concurrency pool).
enum HTTPExchange {
    static func send(_ request: URLRequest) throws -> (Data, Int) {
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: Result<(Data, Int), any Error> = .failure(URLError(.unknown))
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                outcome = .failure(error)
            } else {
                outcome = .success((data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0))
            }
            semaphore.signal()
        }.resume()
        semaphore.wait()
        return try outcome.get()
    }
}
