internal import COpenSSL

extension ECPrivateKey {
    /// ECDH: the x-coordinate of `self · peer` (SEC 1 §3.3.1), as HPKE's DHKEM and TLS use it.
    public func sharedSecret(with peer: ECPublicKey) throws -> [UInt8] {
        guard peer.curve == curve else {
            throw CryptoError(.invalidKey, "ECDH peer key is on \(peer.curve.rawValue), ours on \(curve.rawValue)")
        }
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key.pointer, nil) else {
            throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try requireOne(EVP_PKEY_derive_init(context), "EVP_PKEY_derive_init")
        try requireOne(EVP_PKEY_derive_set_peer_ex(context, peer.key.pointer, 1), "EVP_PKEY_derive_set_peer_ex")
        var secret = [UInt8](repeating: 0, count: curve.coordinateByteCount)
        var length = secret.count
        try requireOne(EVP_PKEY_derive(context, &secret, &length), "EVP_PKEY_derive")
        guard length == secret.count else {
            throw CryptoError(.library, "ECDH produced \(length) bytes, expected \(secret.count)")
        }
        return secret
    }
}
