public import CloisterCrypto
import Foundation

/// The verifier's ES256 key: it signs attestation results (JWS compact serialisation, RFC 7515) and publishes its
/// public half as a JWK set (RFC 7517) whose key id is the RFC 7638 thumbprint.
public struct ResultSigner: Sendable {
    public let key: ECPrivateKey
    /// Names the verifier in results (`ear.verifier-id`).
    public let build: String

    /// A signer with a P-256 `key`.
    public init(key: ECPrivateKey, build: String) throws {
        guard key.curve == .p256 else {
            throw CryptoError(.invalidKey, "attestation results are signed ES256: the verifier key must be P-256")
        }
        self.key = key
        self.build = build
    }

    /// The public key as a JWK: {"kty", "crv", "x", "y"} plus "kid", "use", "alg".
    public var jwk: [String: String] {
        let point = key.publicKey.x963Representation
        return [
            "kty": "EC", "crv": "P-256", "x": base64URL(point[1...32]), "y": base64URL(point[33...64]),
            "kid": keyID, "use": "sig", "alg": "ES256",
        ]
    }

    /// The RFC 7638 thumbprint of the key (SHA-256 of its required members in lexicographic order), base64url.
    public var keyID: String {
        let point = key.publicKey.x963Representation
        let canonical = #"{"crv":"P-256","kty":"EC","x":"\#(base64URL(point[1...32]))","y":"\#(base64URL(point[33...64]))"}"#
        return base64URL(DigestAlgorithm.sha256.hash(Array(canonical.utf8))[...])
    }

    /// `{"keys": [jwk]}` as JSON.
    public var jwks: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(["keys": [jwk]])) ?? Data())
    }

    /// A JWT with header {"alg": "ES256", "typ": "JWT", "kid"} over `claims` encoded as JSON.
    public func token(_ claims: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let header = try encoder.encode(["alg": "ES256", "typ": "JWT", "kid": keyID])
        let payload = try encoder.encode(claims)
        let signingInput = base64URL(Array(header)[...]) + "." + base64URL(Array(payload)[...])
        let signature = try key.signature(for: Array(signingInput.utf8)).rawRepresentation
        return signingInput + "." + base64URL(signature[...])
    }
}

/// Base64url without padding (RFC 7515 §2).
func base64URL(_ bytes: ArraySlice<UInt8>) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
