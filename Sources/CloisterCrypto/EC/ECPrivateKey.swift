internal import COpenSSL

/// An elliptic-curve private key on P-256 or P-384, usable for ECDSA and ECDH.
public struct ECPrivateKey: Sendable {
    let key: EVPKey
    public let curve: ECCurve

    private init(key: EVPKey) throws {
        self.key = key
        self.curve = try key.ecCurve()
    }

    /// Generates a fresh key from OpenSSL's DRBG.
    public init(generating curve: ECCurve) throws {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, OpenSSLName.ecKeyType.pointer, nil) else {
            throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_name(EC)")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try requireOne(EVP_PKEY_keygen_init(context), "EVP_PKEY_keygen_init")
        let params = [
            OSSL_PARAM_construct_utf8_string(OpenSSLName.groupName.pointer, curve.groupName.pointer, 0),
            OSSL_PARAM_construct_end(),
        ]
        try requireOne(EVP_PKEY_CTX_set_params(context, params), "EVP_PKEY_CTX_set_params(group)")
        var generated: OpaquePointer?
        try requireOne(EVP_PKEY_generate(context, &generated), "EVP_PKEY_generate(\(curve.rawValue))")
        try self.init(key: EVPKey(taking: requireNonNull(generated, "EVP_PKEY_generate")))
    }

    /// Imports a private scalar (big-endian, exactly the curve's coordinate length); the public key is derived.
    public init(rawRepresentation scalar: some ContiguousBytesView, curve: ECCurve) throws {
        let bytes = scalar.withBytes { Array($0) }
        guard bytes.count == curve.coordinateByteCount else {
            throw CryptoError(
                .malformedInput,
                "\(curve.rawValue) private scalar must be \(curve.coordinateByteCount) bytes, got \(bytes.count)"
            )
        }
        let builder = try ECKeyBuilder(curve: curve)
        let point = try builder.publicPoint(forScalar: bytes)
        try self.init(key: builder.build(publicPoint: point, privateScalar: bytes))
    }

    /// Imports a DER private key: PKCS#8 `PrivateKeyInfo` or SEC 1 `ECPrivateKey`.
    public init(derRepresentation der: some ContiguousBytesView) throws {
        try self.init(
            key: EVPKey.decode(
                der, inputType: OpenSSLName.der, selection: KeySelection.keyPair, what: "private key DER"))
    }

    /// Imports a PEM private key: `PRIVATE KEY` (PKCS#8) or `EC PRIVATE KEY` (SEC 1).
    public init(pemRepresentation pem: String) throws {
        try self.init(
            key: EVPKey.decode(
                pem, inputType: OpenSSLName.pem, selection: KeySelection.keyPair, what: "private key PEM"))
    }

    /// The public half. It shares the key pair's OpenSSL object, so getting it costs nothing.
    public var publicKey: ECPublicKey {
        ECPublicKey(sharing: key, curve: curve)
    }

    /// The private scalar, big-endian, padded to the curve's coordinate length.
    public var rawRepresentation: [UInt8] {
        var scalar: OpaquePointer?
        let status = EVP_PKEY_get_bn_param(key.pointer, OSSL_PKEY_PARAM_PRIV_KEY, &scalar)
        precondition(status == 1 && scalar != nil, "EC private key export failed: \(drainOpenSSLErrors())")
        defer { BN_clear_free(scalar) }
        var output = [UInt8](repeating: 0, count: curve.coordinateByteCount)
        _ = BN_bn2binpad(scalar, &output, Int32(output.count))
        return output
    }

    /// PKCS#8 `PrivateKeyInfo`, DER.
    public var pkcs8DERRepresentation: [UInt8] { encoded(OpenSSLName.der, OpenSSLName.privateKeyInfo) }
    /// PKCS#8 `PRIVATE KEY`, PEM.
    public var pkcs8PEMRepresentation: String {
        String(decoding: encoded(OpenSSLName.pem, OpenSSLName.privateKeyInfo), as: UTF8.self)
    }
    /// SEC 1 `ECPrivateKey`, DER.
    public var sec1DERRepresentation: [UInt8] { encoded(OpenSSLName.der, OpenSSLName.typeSpecific) }
    /// SEC 1 `EC PRIVATE KEY`, PEM.
    public var sec1PEMRepresentation: String {
        String(decoding: encoded(OpenSSLName.pem, OpenSSLName.typeSpecific), as: UTF8.self)
    }

    private func encoded(_ outputType: PermanentCString, _ structure: PermanentCString) -> [UInt8] {
        // Encoding a key OpenSSL already holds fails only on allocation failure.
        try! key.encode(outputType: outputType, structure: structure, selection: KeySelection.keyPair)
    }
}
