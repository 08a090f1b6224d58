import Attestation
public import HTTPTypes
public import Hummingbird
import Logging

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

extension Request {
    /// The whole body, refused with 413 `body-too-large` past `limit` bytes.
    public func bytes(upTo limit: Int) async throws -> [UInt8] {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: limit)
        } catch {
            throw ServiceError(.contentTooLarge, "body-too-large", "the body exceeds \(limit) bytes")
        }
        return Array(buffer.readableBytesView)
    }
}
