import Attestation
import CloisterCBOR
import ConfidentialProtocol
import EnclaveProtocol
public import Foundation
public import Verifier

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Attestation through a verifier service (`cloister serve`) instead of a local appraiser, by its Veraison-shaped
/// challenge-response API: the service issues the nonce, the enclave quotes on it, the service appraises the quote
/// under its policy and returns a signed EAR, which is checked against the service's JWK set (signature, age, nonce,
/// affirming status) before its `public_key` claim is trusted.
public struct VerifierServiceAttestation: Sendable {
    public let verifier: URL
    /// The service's policy to appraise under (its default policy when nil).
    public let policyID: String?

    public init(verifier: URL, policyID: String? = nil) {
        self.verifier = verifier
        self.policyID = policyID
    }

    /// Attests the enclave reached through `call` (its host's relay of `cloister.quote`).
    public func attest(call: (_ function: String, _ argument: [UInt8]) throws -> [UInt8]) throws -> AttestedEnclave {
        struct Session: Decodable {
            let id: String
            let nonce: String
        }
        struct Completed: Decodable {
            let status: String
            let result: String?
        }
        let session: Session = try exchange("POST", "/challenge-response/v1/newSession", expect: 201)
        guard let nonce = Data(base64Encoded: session.nonce).map(Array.init) else {
            throw AttestationRefusal(reason: "the verifier service's session has no base64 nonce")
        }
        let quote = try call(
            EnclaveMain.quoteFunction,
            CBORValue.map([CBORMapEntry("nonce", .bytes(nonce)), CBORMapEntry("user_data", .null)]).encoded())
        let path =
            "/challenge-response/v1/session/\(session.id)"
            + (policyID.map { "?policy=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } ?? "")
        let completed: Completed = try exchange(
            "POST", path, body: quote, contentType: "application/octet-stream", expect: 200)
        guard completed.status == "complete", let token = completed.result else {
            throw AttestationRefusal(reason: "the verifier service did not complete session \(session.id)")
        }
        let jwks = try send("GET", "/.well-known/jwks.json", expect: 200)
        return try AttestationResultToken(token, jwks: jwks, expectedNonce: nonce).attestedEnclave(nonce: nonce)
    }

    private func exchange<T: Decodable>(
        _ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil, expect: Int
    ) throws -> T {
        let data = try send(method, path, body: body, contentType: contentType, expect: expect)
        do {
            return try JSONDecoder().decode(T.self, from: Data(data))
        } catch {
            throw AttestationRefusal(
                reason: "the verifier service's answer to \(method) \(path) is not valid: \(error)")
        }
    }

    private func send(
        _ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil, expect: Int
    ) throws -> [UInt8] {
        guard let url = URL(string: path, relativeTo: verifier) else {
            throw AttestationRefusal(reason: "\(verifier)\(path) is not a URL")
        }
        var request = URLRequest(url: url, timeoutInterval: 30)
        request.httpMethod = method
        if let body { request.httpBody = Data(body) }
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        let (data, status) = try HTTPExchange.send(request)
        guard status == expect else {
            throw AttestationRefusal(
                reason:
                    "the verifier service answered \(method) \(path) with HTTP \(status): \(String(decoding: data.prefix(300), as: UTF8.self))"
            )
        }
        return Array(data)
    }
}
