/// DHKEM(P-256, HKDF-SHA256) (RFC 9180 §4.1).
enum DHKEM {
    private static let kdf = LabeledKDF(suiteID: HPKE.CipherSuite.p256SHA256AES128GCM.kemSuiteID)
    private static let sharedSecretByteCount = 32

    /// The KEM shared secret and the encapsulated key for `recipient`, using `ephemeral` as skE.
    static func encapsulate(to recipient: ECPublicKey, ephemeral: ECPrivateKey) throws -> (
        sharedSecret: [UInt8], encapsulatedKey: [UInt8]
    ) {
        try requireP256(recipient.curve)
        let encapsulatedKey = ephemeral.publicKey.x963Representation
        let dh = try ephemeral.sharedSecret(with: recipient)
        let kemContext = encapsulatedKey + recipient.x963Representation
        return (try extractAndExpand(dh: dh, kemContext: kemContext), encapsulatedKey)
    }

    /// The KEM shared secret that `recipient` recovers from `encapsulatedKey`.
    static func decapsulate(_ encapsulatedKey: [UInt8], recipient: ECPrivateKey) throws -> [UInt8] {
        try requireP256(recipient.curve)
        let ephemeral: ECPublicKey
        do {
            ephemeral = try ECPublicKey(x963Representation: encapsulatedKey, curve: .p256)
        } catch {
            throw CryptoError(.malformedInput, "HPKE encapsulated key is not a P-256 point: \(error)")
        }
        let dh = try recipient.sharedSecret(with: ephemeral)
        let kemContext = encapsulatedKey + recipient.publicKey.x963Representation
        return try extractAndExpand(dh: dh, kemContext: kemContext)
    }

    /// DeriveKeyPair (RFC 9180 §7.1.3): rejection sampling of a P-256 scalar from `inputKeyMaterial`.
    static func deriveKeyPair(inputKeyMaterial: [UInt8]) throws -> ECPrivateKey {
        let prk = try kdf.extract(salt: [], label: "dkp_prk", inputKeyMaterial: inputKeyMaterial)
        for counter in 0...255 {
            // The bitmask for P-256 is 0xff: every candidate keeps all of its bits.
            let candidate = try kdf.expand(pseudorandomKey: prk, label: "candidate", info: [UInt8(counter)], length: 32)
            if let key = try? ECPrivateKey(rawRepresentation: candidate, curve: .p256) {
                return key
            }
        }
        throw CryptoError(.library, "HPKE DeriveKeyPair found no valid P-256 scalar in 256 candidates")
    }

    private static func extractAndExpand(dh: [UInt8], kemContext: [UInt8]) throws -> [UInt8] {
        let prk = try kdf.extract(salt: [], label: "eae_prk", inputKeyMaterial: dh)
        return try kdf.expand(
            pseudorandomKey: prk, label: "shared_secret", info: kemContext, length: sharedSecretByteCount)
    }

    private static func requireP256(_ curve: ECCurve) throws {
        guard curve == .p256 else {
            throw CryptoError(.invalidKey, "DHKEM(P-256, HKDF-SHA256) needs a P-256 key, got \(curve.rawValue)")
        }
    }
}
