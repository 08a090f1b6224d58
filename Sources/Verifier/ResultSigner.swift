import Attestation
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
        let point = key.publicKey.x963Representation
        let canonical =
            #"{"crv":"P-256","kty":"EC","x":"\#(base64URL(point[1...32]))","y":"\#(base64URL(point[33...64]))"}"#
        keyID = base64URL(DigestAlgorithm.sha256.hash(Array(canonical.utf8))[...])
        encodedHeader = base64URL(Array(#"{"alg":"ES256","kid":"\#(keyID)","typ":"JWT"}"#.utf8)[...])
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
    public let keyID: String
    /// The JWS protected header, base64url: {"alg":"ES256","kid":…,"typ":"JWT"}.
    private let encodedHeader: String

    /// `{"keys": [jwk]}` as JSON.
    public var jwks: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(["keys": [jwk]])) ?? Data())
    }

    /// A JWT with header {"alg": "ES256", "typ": "JWT", "kid"} over `claims` encoded as JSON.
    public func token(_ claims: some Encodable) throws -> String {
        let payload = try CompactJSONEncoder().encode(claims)
        var token = Array(encodedHeader.utf8)
        token.append(UInt8(ascii: "."))
        appendBase64URL(payload[...], to: &token)
        let signature = try key.signature(for: token).rawRepresentation
        token.append(UInt8(ascii: "."))
        appendBase64URL(signature[...], to: &token)
        return String(decoding: token, as: UTF8.self)
    }
}

/// Base64url without padding (RFC 7515 §2).
package func base64URL(_ bytes: ArraySlice<UInt8>) -> String {
    var text: [UInt8] = []
    appendBase64URL(bytes, to: &text)
    return String(decoding: text, as: UTF8.self)
}

/// Appends the base64url text (no padding) of `bytes` to `output`.
func appendBase64URL(_ bytes: ArraySlice<UInt8>, to output: inout [UInt8]) {
    let start = output.count
    output.append(contentsOf: repeatElement(0, count: (bytes.count * 4 + 2) / 3))
    bytes.withUnsafeBufferPointer { input in
        base64URLAlphabet.withUnsafeBufferPointer { alphabet in
            output.withUnsafeMutableBufferPointer { text in
                var position = start
                var index = 0
                while index < input.count {
                    let available = min(3, input.count - index)
                    var group = UInt32(input[index]) << 16
                    if available > 1 { group |= UInt32(input[index + 1]) << 8 }
                    if available > 2 { group |= UInt32(input[index + 2]) }
                    for sextet in 0...available {
                        text[position] = alphabet[Int(group >> (18 - 6 * UInt32(sextet)) & 0x3f)]
                        position += 1
                    }
                    index += available
                }
            }
        }
    }
}

private let base64URLAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
