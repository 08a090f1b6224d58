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
    /// The aggregator host: `router(relay:board:)` served on `host`:`port` with `timeouts` (`fl serve` and the
    /// tests build it alike).
    public static func application(
        relay: AggregatorRelay, board: FederationBoard, host: String, port: Int,
        timeouts: HTTPTimeouts = HTTPTimeouts(), logger: Logger,
        onServerRunning: @escaping @Sendable (any NIOCore.Channel) async -> Void = { _ in }
    ) -> Application<RouterResponder<BasicRequestContext>> {
        Application(
            router: router(relay: relay, board: board), server: .http1(timeouts: timeouts),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "cloister"),
            onServerRunning: onServerRunning, logger: logger)
    }

    /// The routes: quotes and updates relayed to the enclave through its bounded queue; the descriptor and the model
    /// answered from `board` (a request for the model with `after` waits there for a newer state, `StateQuery`).
    public static func router(relay: AggregatorRelay, board: FederationBoard) -> Router<BasicRequestContext> {
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
            return JSONBody.raw(
                try await relay.relay(EnclaveMain.quoteFunction, body), contentType: "application/cbor")
        }
        router.get(RouterPath(FederationHTTPAPI.descriptor.path)) { _, _ in
            JSONBody.raw(board.signedDescriptor, contentType: "application/cose")
        }
        router.get(RouterPath(FederationHTTPAPI.state.path)) { request, _ in
            let parameters = request.uri.queryParameters
            guard let afterText = parameters["after"] else {
                return JSONBody.raw(board.snapshot.signedState, contentType: "application/cose")
            }
            guard let after = Int(String(afterText)), after >= 0 else {
                throw FederationError(.protocolViolation, "after=\(afterText) is not a round count")
            }
            let query = StateQuery(after: after, client: parameters["client"].map(String.init))
            let state = try await board.wait(timeout: FederationHTTPAPI.maximumWait) { $0.answers(query) }
            return JSONBody.raw(state.signedState, contentType: "application/cose")
        }
        router.post(RouterPath(FederationHTTPAPI.submit.path)) { request, _ in
            let body = try await request.bytes(upTo: FederationCall.maximumUpdateSize)
            let signed = try await relay.relay(FederationCall.submit, body)
            if let receipt = try? SignedStatement<Receipt>(unverified: signed, what: "the receipt").header {
                board.recordAccepted(receipt.accepted, round: receipt.round)
            }
            return JSONBody.raw(signed, contentType: "application/cose")
        }
        return router
    }

    /// The HTTP status of each refusal: 400 for a malformed message, 403 for a client that may not submit, 409 for
    /// a submission at the wrong time, 413 for an update past the enclave's limit, 422 for an update that is not a
    /// valid vector. The host itself refuses a body past `FederationCall.maximumUpdateSize` (the enclave's limit on
    /// an update) with 413, so no update the enclave would refuse for its size reaches it, and answers 429 with
    /// `Retry-After` when its queue or its waiting requests are at their bound (`HostBusy`).
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
        } catch let busy as HostBusy {
            context.logger.debug("busy", metadata: ["path": "\(request.uri.path)"])
            throw ServiceError(.tooManyRequests, "busy", busy.reason, headers: [.retryAfter: "1"])
        }
    }
}
