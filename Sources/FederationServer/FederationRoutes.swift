import CloisterCBOR
public import CloisterErrors
import ConfidentialProtocol
import EnclaveProtocol
public import Federated
import Foundation
public import HTTPService
public import Hummingbird
public import Logging
public import NIOCore

/// The aggregator host's HTTP server for `FederationHTTPAPI`: every body it relays is opaque to it (media types
/// `application/cbor` and `application/cose`).
public enum FederationRoutes {
    /// The aggregator host: `router(relay:)` served on `host`:`port` with `timeouts` (`fl serve` and the tests
    /// build it alike).
    public static func application(
        relay: AggregatorRelay, host: String, port: Int, timeouts: HTTPTimeouts = HTTPTimeouts(), logger: Logger,
        onServerRunning: @escaping @Sendable (any NIOCore.Channel) async -> Void = { _ in }
    ) -> Application<RouterResponder<BasicRequestContext>> {
        Application(
            router: router(relay: relay), server: .http1(timeouts: timeouts),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "cloister"),
            onServerRunning: onServerRunning, logger: logger)
    }

    public static func router(relay: AggregatorRelay) -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(JSONErrorMiddleware())
        router.middlewares.add(FederationErrorMiddleware())
        router.middlewares.add(LogRequestsMiddleware(.debug))
        router.get("/healthz") { _, _ in JSONBody.response(["status": "ok"]) }
        router.post(RouterPath(FederationHTTPAPI.quote.path)) { request, _ in
            let body = try await request.bytes(upTo: FederationHTTPAPI.maximumQuoteRequestSize)
            // Not secret: the host checks the shape so a malformed request is the client's 400, not the enclave's.
            guard (try? QuoteBinding(CBORDecoder().decode(body))) != nil else {
                throw FederationError(.protocolViolation, "a quote request is the CBOR map {\"nonce\", \"user_data\"}")
            }
            return JSONBody.raw(try await relay.call(EnclaveMain.quoteFunction, body), contentType: "application/cbor")
        }
        router.get(RouterPath(FederationHTTPAPI.descriptor.path)) { _, _ in
            JSONBody.raw(try await relay.call(FederationCall.descriptor), contentType: "application/cose")
        }
        router.get(RouterPath(FederationHTTPAPI.state.path)) { _, _ in
            JSONBody.raw(try await relay.call(FederationCall.state), contentType: "application/cose")
        }
        router.post(RouterPath(FederationHTTPAPI.submit.path)) { request, _ in
            let body = try await request.bytes(upTo: FederationCall.maximumUpdateSize)
            return JSONBody.raw(try await relay.call(FederationCall.submit, body), contentType: "application/cose")
        }
        return router
    }

    /// The HTTP status of each refusal: 400 for a malformed message, 403 for a client that may not submit, 409 for
    /// a submission at the wrong time, 413 for an update past the enclave's limit, 422 for an update that is not a
    /// valid vector. The host itself refuses a body past `FederationCall.maximumUpdateSize` (the enclave's limit on
    /// an update) with 413, so no update the enclave would refuse for its size reaches it.
    public static func status(of code: FederationError.Code) -> HTTPResponse.Status {
        switch code {
        case .protocolViolation, .invalidParameter: .badRequest
        case .unknownClient, .notInCohort: .forbidden
        case .staleRound, .duplicateSubmission, .roundNotReady, .budgetExhausted: .conflict
        case .wrongShape, .nonFinite, .invalidUpdate: .unprocessableContent
        case .updateTooLarge: .contentTooLarge
        default: .badRequest
        }
    }
}

/// Federation refusals as JSON errors with their status and code.
struct FederationErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as FederationError {
            context.logger.info("refused", metadata: ["code": "\(error.code)", "path": "\(request.uri.path)"])
            throw ServiceError(FederationRoutes.status(of: error.code), error.code.rawValue, error.reason)
        }
    }
}
