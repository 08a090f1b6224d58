internal import COpenSSL

/// An RSA private key, for RSASSA-PSS signatures on certificates and CRLs (AMD's ARK, ASK and ASVK are 4096-bit RSA
/// keys signing with PSS). Generating one costs far more than an EC key (seconds at 4096 bits), so the size is the
/// caller's choice.
public struct RSAPrivateKey: Sendable {
    let key: EVPKey
    /// The modulus size in bits.
    public let bitCount: Int

    private init(key: EVPKey) throws {
        guard EVP_PKEY_is_a(key.pointer, "RSA") == 1 else {
            throw CryptoError(.invalidKey, "key is not an RSA key")
        }
        self.key = key
        self.bitCount = Int(EVP_PKEY_get_bits(key.pointer))
    }

    /// Generates a fresh key of `bitCount` bits (2048 to 16384, a multiple of 8) with public exponent 65537, from
    /// OpenSSL's DRBG.
    public init(generatingBits bitCount: Int) throws {
        guard (2048...16384).contains(bitCount), bitCount % 8 == 0 else {
            throw CryptoError(
                .invalidParameter, "an RSA key must have 2048 to 16384 bits, a multiple of 8, not \(bitCount)")
        }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, OpenSSLName.rsaKeyType.pointer, nil) else {
            throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_name(RSA)")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try requireOne(EVP_PKEY_keygen_init(context), "EVP_PKEY_keygen_init")
        guard EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(bitCount)) > 0 else {
            throw CryptoError.openSSL("EVP_PKEY_CTX_set_rsa_keygen_bits(\(bitCount))")
        }
        var generated: OpaquePointer?
        try requireOne(EVP_PKEY_generate(context, &generated), "EVP_PKEY_generate(RSA-\(bitCount))")
        try self.init(key: EVPKey(taking: requireNonNull(generated, "EVP_PKEY_generate")))
    }

    /// Imports a DER private key: PKCS#8 `PrivateKeyInfo` or PKCS#1 `RSAPrivateKey`.
    public init(derRepresentation der: some ContiguousBytesView) throws {
        try self.init(
            key: EVPKey.decode(
                der, inputType: OpenSSLName.der, selection: KeySelection.keyPair, what: "private key DER",
                keyType: OpenSSLName.rsaKeyType, keyName: "RSA"))
    }

    /// Imports a PEM private key: `PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY` (PKCS#1).
    public init(pemRepresentation pem: String) throws {
        try self.init(
            key: EVPKey.decode(
                pem, inputType: OpenSSLName.pem, selection: KeySelection.keyPair, what: "private key PEM",
                keyType: OpenSSLName.rsaKeyType, keyName: "RSA"))
    }

    /// The public half. It shares the key pair's OpenSSL object, so getting it costs nothing.
    public var publicKey: RSAPublicKey { RSAPublicKey(sharing: key, bitCount: bitCount) }

    /// PKCS#8 `PrivateKeyInfo`, DER.
    public var pkcs8DERRepresentation: [UInt8] { encoded(OpenSSLName.der) }
    /// PKCS#8 `PRIVATE KEY`, PEM.
    public var pkcs8PEMRepresentation: String { String(decoding: encoded(OpenSSLName.pem), as: UTF8.self) }

    private func encoded(_ outputType: PermanentCString) -> [UInt8] {
        // Encoding a key OpenSSL already holds fails only on allocation failure.
        try! key.encode(
            outputType: outputType, structure: OpenSSLName.privateKeyInfo, selection: KeySelection.keyPair)
    }
}
