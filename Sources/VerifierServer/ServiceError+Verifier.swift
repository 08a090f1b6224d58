import Attestation
import CloisterCrypto
import CloisterErrors
import Foundation
public import HTTPService
import Hummingbird
import VendorCollateral

extension ServiceError {
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

    /// The PCCS could not give a DCAP quote's collateral (502): unreachable, an error status, or an answer that is
    /// not the collateral; the reason names the URL and what was wrong.
    static func collateralUnavailable(_ error: PCSError) -> ServiceError {
        ServiceError(.badGateway, "collateral-unavailable", error.reason)
    }

    /// AMD's KDS could not give an SEV-SNP report's VCEK, ASK or CRL (502), likewise.
    static func collateralUnavailable(_ error: KDSError) -> ServiceError {
        ServiceError(.badGateway, "collateral-unavailable", error.reason)
    }

    /// Evidence that does not read as a format the service verifies (422), with the refusal's code
    /// (`malformed-evidence`, `unknown-evidence-format`, `unsupported-evidence-format`) and reason.
    static func unreadableEvidence(_ refusal: AttestationError) -> ServiceError {
        ServiceError(.unprocessableContent, refusal.code.rawValue, refusal.reason)
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
