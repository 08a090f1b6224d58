internal import COpenSSL

/// Builds `EVP_PKEY`s from raw curve points and scalars (HPKE, COSE keys and test vectors arrive that way).
struct ECKeyBuilder {
    let curve: ECCurve

    init(curve: ECCurve) throws {
        self.curve = curve
    }

    /// Computes `scalar · G` as an uncompressed point, rejecting scalars outside [1, n−1].
    func publicPoint(forScalar scalar: [UInt8]) throws -> [UInt8] {
        guard let group = EC_GROUP_new_by_curve_name(curve.nid) else {
            throw CryptoError.openSSL("EC_GROUP_new_by_curve_name")
        }
        defer { EC_GROUP_free(group) }
        guard let bignumContext = BN_CTX_new() else { throw CryptoError.openSSL("BN_CTX_new") }
        defer { BN_CTX_free(bignumContext) }
        guard let exponent = BN_bin2bn(scalar, Int32(scalar.count), nil) else { throw CryptoError.openSSL("BN_bin2bn") }
        defer { BN_clear_free(exponent) }
        guard BN_is_zero(exponent) == 0, BN_cmp(exponent, EC_GROUP_get0_order(group)) < 0 else {
            throw CryptoError(.invalidKey, "\(curve.rawValue) private scalar is zero or not below the group order")
        }
        guard let point = EC_POINT_new(group) else { throw CryptoError.openSSL("EC_POINT_new") }
        defer { EC_POINT_clear_free(point) }
        try requireOne(EC_POINT_mul(group, point, exponent, nil, nil, bignumContext), "EC_POINT_mul")
        var output = [UInt8](repeating: 0, count: 1 + 2 * curve.coordinateByteCount)
        let written = EC_POINT_point2oct(
            group, point, POINT_CONVERSION_UNCOMPRESSED, &output, output.count, bignumContext)
        guard written == output.count else { throw CryptoError.openSSL("EC_POINT_point2oct") }
        return output
    }

    /// Assembles a key from an uncompressed public point and, for a key pair, the private scalar.
    func build(publicPoint: [UInt8], privateScalar: [UInt8]?) throws -> EVPKey {
        guard let builder = OSSL_PARAM_BLD_new() else { throw CryptoError.openSSL("OSSL_PARAM_BLD_new") }
        defer { OSSL_PARAM_BLD_free(builder) }
        var scalarNumber: OpaquePointer?
        defer { BN_clear_free(scalarNumber) }
        if let privateScalar {
            scalarNumber = BN_secure_new()
            guard BN_bin2bn(privateScalar, Int32(privateScalar.count), scalarNumber) != nil else {
                throw CryptoError.openSSL("BN_bin2bn")
            }
        }
        // The builder keeps the key names and the point's address until OSSL_PARAM_BLD_to_param copies them,
        // so the point stays pinned across every push and the conversion.
        let params = try publicPoint.withUnsafeBufferPointer { point in
            try requireOne(
                OSSL_PARAM_BLD_push_utf8_string(builder, OpenSSLName.groupName.pointer, curve.groupName.pointer, 0),
                "OSSL_PARAM_BLD_push_utf8_string"
            )
            try requireOne(
                OSSL_PARAM_BLD_push_octet_string(
                    builder, OpenSSLName.publicKey.pointer, point.baseAddress, point.count),
                "OSSL_PARAM_BLD_push_octet_string"
            )
            if let scalarNumber {
                try requireOne(
                    OSSL_PARAM_BLD_push_BN(builder, OpenSSLName.privateKey.pointer, scalarNumber),
                    "OSSL_PARAM_BLD_push_BN"
                )
            }
            return try requireNonNull(OSSL_PARAM_BLD_to_param(builder), "OSSL_PARAM_BLD_to_param")
        }
        defer { OSSL_PARAM_free(params) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, OpenSSLName.ecKeyType.pointer, nil) else {
            throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_name")
        }
        defer { EVP_PKEY_CTX_free(context) }
        try requireOne(EVP_PKEY_fromdata_init(context), "EVP_PKEY_fromdata_init")
        var key: OpaquePointer?
        let selection = privateScalar == nil ? KeySelection.publicKey : KeySelection.keyPair
        guard EVP_PKEY_fromdata(context, &key, selection, params) == 1, let key else {
            throw CryptoError(.malformedInput, "not a valid \(curve.rawValue) key: \(drainOpenSSLErrors())")
        }
        return EVPKey(taking: key)
    }

    /// Rejects public keys that are not points of the curve's prime-order group (invalid-curve attacks on ECDH).
    static func checkPublicKey(_ key: EVPKey) throws {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key.pointer, nil) else {
            throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_pkey")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_public_check(context) == 1 else {
            throw CryptoError(.invalidKey, "public key is not a valid point of its curve: \(drainOpenSSLErrors())")
        }
    }
}
