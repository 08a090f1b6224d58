import Attestation
import CloisterCrypto
import CloisterErrors
import Foundation
public import HTTPTypes
public import Hummingbird
import Logging
import Verifier

/// An error the API reports as `{"error": {"status", "code", "message"}}` with its HTTP status.
public struct ServiceError: Error, Sendable, HTTPResponseError {
    public let status: HTTPResponse.Status
    public let code: String
    public let message: String
    /// Headers the response carries besides Content-Type (a 401 always has WWW-Authenticate).
    public let headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        var headers = headers
        if status == .unauthorized { headers[.wwwAuthenticate] = #"Bearer realm="cloister""# }
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONBody.response(
            status: status, headers: headers, ["error": ["status": "\(status.code)", "code": code, "message": message]])
    }

    static func unknownPolicy(_ id: String) -> ServiceError {
        ServiceError(.notFound, "unknown-policy", "no policy named '\(id)'")
    }

    /// `newSession` refused because `limit` sessions are outstanding (503); Retry-After says when the first of them
    /// expires, in whole seconds, at least 1.
    static func tooManySessions(limit: Int, retryAfter: TimeInterval) -> ServiceError {
        let seconds = max(1, Int(min(retryAfter.rounded(.up), TimeInterval(Int32.max))))
        return ServiceError(
            .serviceUnavailable, "too-many-sessions",
            "\(limit) sessions are outstanding (issued, neither used nor expired), the most this service allows; "
                + "retry in \(seconds) s, or use or let expire the sessions already issued",
            headers: [.retryAfter: "\(seconds)"])
    }

    /// Evidence that does not read as a format the service verifies (422), with the refusal's code
    /// (`malformed-evidence`, `unknown-evidence-format`, `unsupported-evidence-format`) and reason.
    static func unreadableEvidence(_ refusal: AttestationError) -> ServiceError {
        ServiceError(.unprocessableContent, refusal.code.rawValue, refusal.reason)
    }
}

/// Turns every error escaping a route into the JSON error shape: Hummingbird's own (413, 404 for an unknown
/// route) keep their status; anything else is a 500 that says only "internal error", and is logged.
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as ServiceError {
            throw error
        } catch let error as HTTPError {
            throw ServiceError(error.status, "http", error.body ?? error.status.reasonPhrase)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            throw ServiceError(.internalServerError, "internal", "internal error")
        }
    }
}

/// Sorted-key JSON responses.
public enum JSONBody {
    public static func response(status: HTTPResponse.Status = .ok, headers: HTTPFields = [:], _ value: some Encodable)
        -> Response
    {
        let data =
            (try? CompactJSONEncoder(sortedKeys: true).encode(value))
            ?? Array(#"{"error":{"code":"internal","message":"encoding"}}"#.utf8)
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    public static func raw(_ bytes: [UInt8], contentType: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

/// Bearer-token authentication for provisioning routes, compared in constant time.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let presented = request.headers[.authorization].flatMap { value -> [UInt8]? in
            let prefix = "Bearer "
            guard value.hasPrefix(prefix) else { return nil }
            return Array(value.dropFirst(prefix.count).utf8)
        }
        guard let presented, !token.isEmpty, constantTimeEquals(presented, token) else {
            throw ServiceError(.unauthorized, "unauthorized", "provisioning needs the admin bearer token")
        }
        return try await next(request, context)
    }
}
