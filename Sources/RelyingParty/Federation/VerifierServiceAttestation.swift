public import AsyncHTTPClient
import Attestation
import CloisterCBOR
import ConfidentialProtocol
import EnclaveProtocol
public import Foundation
import NIOCore
import NIOHTTP1
public import Verifier

/// Attestation through a verifier service (`cloister serve`) instead of a local appraiser, by its Veraison-shaped
/// challenge-response API: the service issues the nonce, the enclave quotes on it, the service appraises the quote
/// under its policy and returns a signed EAR, which is checked against the service's JWK set (signature, age, nonce,
/// affirming status) before its `public_key` claim is trusted.
public struct VerifierServiceAttestation: Sendable {
    public let verifier: URL
    /// The service's policy to appraise under (its default policy when nil).
    public let policyID: String?
    public let http: HTTPClient

    public init(verifier: URL, policyID: String? = nil, http: HTTPClient = .shared) {
        self.verifier = verifier
        self.policyID = policyID
        self.http = http
    }

    /// The longest one exchange with the service may take.
    static let timeout: Duration = .seconds(30)
    /// The largest answer read from the service (an EAR, a JWK set).
    static let maximumAnswerSize = 1 << 20

    /// Attests the enclave reached through `call` (its host's relay of `cloister.quote`).
    public func attest(call: (_ function: String, _ argument: [UInt8]) async throws -> [UInt8]) async throws
        -> AttestedEnclave
    {
        struct Session: Decodable {
            let id: String
            let nonce: String
        }
        struct Completed: Decodable {
            let status: String
            let result: String?
        }
        let session: Session = try await exchange("POST", "/challenge-response/v1/newSession", expect: 201)
        guard let nonce = Data(base64Encoded: session.nonce).map(Array.init) else {
            throw AttestationRefusal(reason: "the verifier service's session has no base64 nonce")
        }
        let quote = try await call(
            EnclaveMain.quoteFunction,
            CBORValue.map([CBORMapEntry("nonce", .bytes(nonce)), CBORMapEntry("user_data", .null)]).encoded())
        let path =
            "/challenge-response/v1/session/\(session.id)"
            + (policyID.map { "?policy=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0)" } ?? "")
        let completed: Completed = try await exchange(
            "POST", path, body: quote, contentType: "application/octet-stream", expect: 200)
        guard completed.status == "complete", let token = completed.result else {
            throw AttestationRefusal(reason: "the verifier service did not complete session \(session.id)")
        }
        let jwks = try await send("GET", "/.well-known/jwks.json", expect: 200)
        return try AttestationResultToken(token, jwks: jwks, expectedNonce: nonce).attestedEnclave(nonce: nonce)
    }

    private func exchange<T: Decodable>(
        _ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil, expect: Int
    ) async throws -> T {
        let data = try await send(method, path, body: body, contentType: contentType, expect: expect)
        do {
            return try JSONDecoder().decode(T.self, from: Data(data))
        } catch {
            throw AttestationRefusal(
                reason: "the verifier service's answer to \(method) \(path) is not valid: \(error)")
        }
    }

    private func send(
        _ method: String, _ path: String, body: [UInt8]? = nil, contentType: String? = nil, expect: Int
    ) async throws -> [UInt8] {
        guard let url = URL(string: path, relativeTo: verifier) else {
            throw AttestationRefusal(reason: "\(verifier)\(path) is not a URL")
        }
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        let status: Int
        let data: [UInt8]
        do {
            let response = try await http.execute(request, timeout: .seconds(Int64(Self.timeout / .seconds(1))))
            status = Int(response.status.code)
            data = Array(buffer: try await response.body.collect(upTo: Self.maximumAnswerSize))
        } catch let error as CancellationError {
            throw error
        } catch {
            throw AttestationRefusal(
                reason: "the verifier service at \(verifier.absoluteString) did not answer \(method) \(path): \(error)")
        }
        guard status == expect else {
            throw AttestationRefusal(
                reason:
                    "the verifier service answered \(method) \(path) with HTTP \(status): \(String(decoding: data.prefix(300), as: UTF8.self))"
            )
        }
        return data
    }
}
