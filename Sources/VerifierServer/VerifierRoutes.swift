import Attestation
import CloisterCrypto
import Foundation
import HTTPService
public import Hummingbird
import Logging
import Verifier

/// The HTTP API (Veraison-shaped challenge-response, one-shot verification, provisioning, keys, health, metrics,
/// OpenAPI). `OpenAPIDocument` describes exactly these routes.
public enum VerifierRoutes {
    /// The largest evidence body accepted: room for dozens of certificates of the largest size documents allow,
    /// and far below the CBOR decoder's input limit (`CBORLimits.default`), so the decoder never refuses a body
    /// for its size that HTTP accepted.
    public static let maximumEvidenceSize = 64 << 10
    /// The largest policy or reference-value body accepted.
    public static let maximumDocumentSize = 64 << 10
    /// The generic media types of evidence whose format the service detects from its bytes; each format's own media
    /// type (`EvidenceFormatRegistry.standard.mediaTypes`) names it.
    public static let detectedEvidenceMediaTypes = ["application/cbor", "application/cose", "application/octet-stream"]

    /// A router serving `service`; provisioning requires `adminToken` as a bearer token.
    public static func router(service: AttestationService, adminToken: [UInt8]) -> Router<BasicRequestContext> {
        let router = Router()
        router.middlewares.add(JSONErrorMiddleware())
        router.middlewares.add(LogRequestsMiddleware(.debug))

        router.get("/healthz") { _, _ -> Response in
            try await service.store.ping()
            return JSONBody.response(["status": "ok", "store": service.store.kind])
        }
        router.get("/metrics") { _, _ in
            JSONBody.raw(service.metrics.exposition, contentType: "text/plain; version=0.0.4")
        }
        router.get("/openapi.json") { _, _ in
            JSONBody.raw(OpenAPIDocument.json, contentType: "application/json")
        }
        router.get("/.well-known/jwks.json") { _, _ in
            JSONBody.raw(service.signer.jwks, contentType: "application/json")
        }

        let sessions = router.group("/challenge-response/v1")
        sessions.post("/newSession") { _, _ -> Response in
            let session = try await service.newSession()
            return JSONBody.response(
                status: .created, headers: [.location: "/challenge-response/v1/session/\(session.id)"],
                SessionBody(session, appraisal: nil))
        }
        sessions.get("/session/{id}") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard let session = try await service.store.session(id: id) else { throw unknownSession(id) }
            return JSONBody.response(SessionBody(session, appraisal: nil))
        }
        sessions.post("/session/{id}") { request, context -> Response in
            let id = try context.parameters.require("id")
            let format = try evidenceFormat(request)
            let evidence = try await evidence(request)
            let policyID = request.uri.queryParameters["policy"].map(String.init)
            switch try await service.completeSession(id: id, evidence: evidence, format: format, policyID: policyID) {
            case .success(let (session, result)):
                return JSONBody.response(SessionBody(session, appraisal: result))
            case .failure(.unknown):
                throw unknownSession(id)
            case .failure(.expired):
                throw ServiceError(.gone, "session-expired", "session \(id) expired; ask for a new one")
            case .failure(.alreadyUsed):
                throw ServiceError(.conflict, "nonce-used", "session \(id)'s nonce was already used: a replay")
            }
        }

        router.post("/v1/verify") { request, _ -> Response in
            let format = try evidenceFormat(request)
            let evidence = try await evidence(request)
            let query = request.uri.queryParameters
            var nonce: [UInt8]?
            if let hex = query["nonce"] {
                guard let bytes = hexDecoded(String(hex)), bytes.count <= AttestationDocument.maximumNonceSize else {
                    throw ServiceError(.badRequest, "bad-nonce", "nonce must be hex, at most 512 bytes")
                }
                nonce = bytes
            }
            let result = try await service.appraise(
                evidence, format: format, policyID: query["policy"].map(String.init), expectedNonce: nonce)
            return JSONBody.response(result)
        }

        let admin = router.group("/v1").add(middleware: BearerTokenMiddleware(token: adminToken))
        admin.get("/policies") { _, _ in JSONBody.response(try await service.store.policies()) }
        admin.get("/policies/{id}") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard let policy = try await service.store.policy(id: id) else { throw ServiceError.unknownPolicy(id) }
            return JSONBody.response(policy)
        }
        admin.put("/policies/{id}") { request, context -> Response in
            let id = try context.parameters.require("id")
            let text = String(decoding: try await request.bytes(upTo: maximumDocumentSize), as: UTF8.self)
            let policy: Policy
            do {
                policy = try Policy(text: text)
            } catch {
                throw ServiceError(.badRequest, "invalid-policy", "\(error)")
            }
            guard policy.id == id else {
                throw ServiceError(
                    .badRequest, "invalid-policy", "the policy's id '\(policy.id)' is not the path's '\(id)'")
            }
            try await service.store.putPolicy(policy)
            service.invalidatePolicies()
            return JSONBody.response(policy)
        }
        admin.delete("/policies/{id}") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard try await service.store.deletePolicy(id: id) else { throw ServiceError.unknownPolicy(id) }
            service.invalidatePolicies()
            return Response(status: .noContent)
        }
        admin.get("/reference-values") { _, _ in JSONBody.response(try await service.store.referenceValues()) }
        admin.put("/reference-values/{id}") { request, context -> Response in
            let id = try context.parameters.require("id")
            let data = Data(try await request.bytes(upTo: maximumDocumentSize))
            let set: ReferenceValueSet
            do {
                let provided = try JSONDecoder().decode(ReferenceValueInput.self, from: data)
                set = try provided.validated(id: id)
            } catch let error as ServiceError {
                throw error
            } catch {
                throw ServiceError(
                    .badRequest, "invalid-reference-values",
                    "expected {\"measurements\": [hex], \"signers\": [hex]}: \(error)")
            }
            try await service.store.putReferenceValues(set)
            service.invalidatePolicies()
            return JSONBody.response(set)
        }
        admin.delete("/reference-values/{id}") { _, context -> Response in
            let id = try context.parameters.require("id")
            defer { service.invalidatePolicies() }
            guard try await service.store.deleteReferenceValues(id: id) else {
                throw ServiceError(.notFound, "unknown-reference-values", "no reference values named '\(id)'")
            }
            return Response(status: .noContent)
        }
        return router
    }

    private static func unknownSession(_ id: String) -> ServiceError {
        ServiceError(.notFound, "unknown-session", "no session '\(id)'")
    }

    /// The evidence body, refused with 413 past `maximumEvidenceSize`.
    private static func evidence(_ request: Request) async throws -> [UInt8] {
        try await request.bytes(upTo: maximumEvidenceSize)
    }

    /// The evidence format the Content-Type names; a generic type (or none) means detect it from the bytes.
    private static func evidenceFormat(_ request: Request) throws -> EvidenceFormat? {
        guard let type = request.headers[.contentType] else { return nil }
        if let format = EvidenceFormatRegistry.standard.format(mediaType: type) { return format }
        let bare = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard detectedEvidenceMediaTypes.contains(bare) else {
            throw ServiceError(
                .unsupportedMediaType, "unsupported-media-type",
                "evidence must be one of "
                    + (EvidenceFormatRegistry.standard.mediaTypes + detectedEvidenceMediaTypes).joined(separator: ", ")
                    + " (the generic types to detect the format)")
        }
        return nil
    }
}

/// The JSON a session is shown as.
struct SessionBody: Encodable {
    let id: String
    let nonce: String
    let expiry: Date
    let status: String
    let accept: [String]
    let result: String?
    let appraisal: AttestationResult?

    init(_ session: ChallengeSession, appraisal: AttestationResult?) {
        id = session.id
        nonce = Data(session.nonce).base64EncodedString()
        expiry = session.expiresAt
        status = session.state.rawValue
        accept = EvidenceFormatRegistry.standard.mediaTypes
        result = session.result
        self.appraisal = appraisal
    }
}

/// A reference-value set as provisioned.
/// The body of `PUT /v1/reference-values/{id}`: `{"measurements": [hex], "signers": [hex]}`, no other key.
struct ReferenceValueInput: Decodable {
    let measurements: [String]?
    let signers: [String]?

    private enum CodingKeys: String, CodingKey, CaseIterable {
        case measurements, signers
    }

    /// Any key of the body, to name one the format does not take.
    private struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
        if let unknown = keys.sorted().first(where: { CodingKeys(rawValue: $0) == nil }) {
            throw ServiceError(
                .badRequest, "invalid-reference-values",
                "unknown key \"\(unknown.prefix(100))\"; reference values take measurements, signers")
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        measurements = try container.decodeIfPresent([String].self, forKey: .measurements)
        signers = try container.decodeIfPresent([String].self, forKey: .signers)
    }

    func validated(id: String) throws -> ReferenceValueSet {
        do {
            try Policy.checkID(id)
        } catch {
            throw ServiceError(.badRequest, "invalid-reference-values", error.reason)
        }
        let values = (measurements ?? []) + (signers ?? [])
        guard !values.isEmpty, values.allSatisfy({ hexDecoded($0).map { !$0.isEmpty } ?? false }) else {
            throw ServiceError(
                .badRequest, "invalid-reference-values", "give at least one measurement or signer, each in hex")
        }
        return ReferenceValueSet(id: id, measurements: measurements ?? [], signers: signers ?? [])
    }
}
