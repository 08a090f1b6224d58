import CloisterCrypto
public import Foundation
public import Verifier

/// An EAR (a JWT, ES256) a verifier service issued, checked by a relying party: the signature against the service's
/// JWK set (RFC 7517; the key its `kid` names), the issue time, the nonce, and the one submodule's status and claims.
public struct AttestationResultToken: Sendable {
    public let status: AppraisalStatus
    public let policyID: String?
    /// The submodule's annotated evidence: `measurement`, `public_key` and the other verified claims, as text.
    public let claims: [String: String]
    public let issuedAt: Date

    /// Checks `token` with the keys in `jwks`: refuses a bad signature, an unknown key, a token older than
    /// `maximumAge` at `time` (or issued in its future, past the allowed skew), or one for another nonce.
    public init(
        _ token: String, jwks: [UInt8], expectedNonce: [UInt8], at time: Date = Date(), maximumAge: TimeInterval = 300
    ) throws {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let headerBytes = Self.base64URLDecoded(parts[0]),
            let payloadBytes = Self.base64URLDecoded(parts[1]), let signature = Self.base64URLDecoded(parts[2]),
            let header = try? JSONSerialization.jsonObject(with: Data(headerBytes)) as? [String: Any],
            let payload = try? JSONSerialization.jsonObject(with: Data(payloadBytes)) as? [String: Any]
        else {
            throw AttestationRefusal(reason: "the attestation result is not a JWT")
        }
        guard header["alg"] as? String == "ES256", let kid = header["kid"] as? String else {
            throw AttestationRefusal(reason: "the attestation result is not signed ES256 with a named key")
        }
        let key = try Self.key(kid, in: jwks)
        guard let raw = try? ECDSASignature(rawRepresentation: signature, curve: .p256),
            key.isValidSignature(raw, for: Array((parts[0] + "." + parts[1]).utf8))
        else {
            throw AttestationRefusal(reason: "the attestation result's signature does not verify with key \(kid)")
        }
        guard let iat = payload["iat"] as? Int else {
            throw AttestationRefusal(reason: "the attestation result has no issue time")
        }
        issuedAt = Date(timeIntervalSince1970: TimeInterval(iat))
        let age = time.timeIntervalSince(issuedAt)
        guard age <= maximumAge, age >= -Appraiser.allowedClockSkew else {
            throw AttestationRefusal(
                reason: "the attestation result was issued \(Int(age)) s ago, outside \(Int(maximumAge)) s")
        }
        guard payload["eat_nonce"] as? String == base64URL(expectedNonce[...]) else {
            throw AttestationRefusal(reason: "the attestation result answers another nonce")
        }
        guard let submods = payload["submods"] as? [String: Any], submods.count == 1,
            let appraisal = submods.values.first as? [String: Any],
            let status = (appraisal["ear.status"] as? String).flatMap(AppraisalStatus.init(rawValue:))
        else {
            throw AttestationRefusal(reason: "the attestation result has no single appraisal with a status")
        }
        self.status = status
        policyID = appraisal["ear.appraisal-policy-id"] as? String
        let evidence = appraisal["ear.veraison.annotated-evidence"] as? [String: Any] ?? [:]
        claims = evidence.compactMapValues { $0 as? String }
    }

    /// The enclave the result vouches for: refused unless the status is affirming.
    public func attestedEnclave(nonce: [UInt8]) throws -> AttestedEnclave {
        guard status == .affirming else {
            throw AttestationRefusal(
                reason: "the verifier service found the enclave \(status.rawValue) under policy '\(policyID ?? "")'")
        }
        return AttestedEnclave(
            key: try AttestedEnclave.key(claim: claims["public_key"]), nonce: nonce, status: status,
            measurement: claims["measurement"])
    }

    private static func key(_ kid: String, in jwks: [UInt8]) throws -> ECPublicKey {
        let set = try? JSONSerialization.jsonObject(with: Data(jwks)) as? [String: Any]
        let keys = set?["keys"] as? [[String: Any]] ?? []
        guard let jwk = keys.first(where: { $0["kid"] as? String == kid }), jwk["kty"] as? String == "EC",
            jwk["crv"] as? String == "P-256", let x = (jwk["x"] as? String).flatMap(base64URLDecoded),
            let y = (jwk["y"] as? String).flatMap(base64URLDecoded), x.count == 32, y.count == 32,
            let key = try? ECPublicKey(x963Representation: [0x04] + x + y, curve: .p256)
        else {
            throw AttestationRefusal(reason: "the verifier's JWK set has no P-256 key \(kid)")
        }
        return key
    }

    static func base64URLDecoded(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}
