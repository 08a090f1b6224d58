internal import COpenSSL

/// An ECDSA signature, held as the fixed-width `r || s` form that COSE and JOSE use.
public struct ECDSASignature: Sendable, Hashable {
    /// `r || s`, each left-padded to the curve's coordinate length.
    public let rawRepresentation: [UInt8]

    /// Wraps a raw `r || s` signature; its length must be twice the curve's coordinate length.
    public init(rawRepresentation: some ContiguousBytesView, curve: ECCurve) throws {
        let bytes = rawRepresentation.withBytes { Array($0) }
        guard bytes.count == 2 * curve.coordinateByteCount else {
            throw CryptoError(
                .malformedInput,
                "\(curve.rawValue) signature must be \(2 * curve.coordinateByteCount) bytes r||s, got \(bytes.count)"
            )
        }
        self.rawRepresentation = bytes
    }

    /// Parses a DER `ECDSA-Sig-Value` (strict DER only) into raw form for `curve`.
    public init(derRepresentation: some ContiguousBytesView, curve: ECCurve) throws {
        let der = derRepresentation.withBytes { Array($0) }
        let signature: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            return d2i_ECDSA_SIG(nil, &cursor, buffer.count)
        }
        guard let signature else {
            throw CryptoError(.malformedInput, "ECDSA signature is not DER: \(drainOpenSSLErrors())")
        }
        defer { ECDSA_SIG_free(signature) }
        var r: OpaquePointer?
        var s: OpaquePointer?
        ECDSA_SIG_get0(signature, &r, &s)
        let width = Int32(curve.coordinateByteCount)
        var raw = [UInt8](repeating: 0, count: 2 * curve.coordinateByteCount)
        let fits = raw.withUnsafeMutableBufferPointer { buffer in
            BN_bn2binpad(r, buffer.baseAddress, width) == width
                && BN_bn2binpad(s, buffer.baseAddress! + Int(width), width) == width
        }
        guard fits else {
            throw CryptoError(.malformedInput, "ECDSA signature integers are too large for \(curve.rawValue)")
        }
        self.rawRepresentation = raw
        guard (try? self.derRepresentation) == der else {
            throw CryptoError(.malformedInput, "ECDSA signature is BER but not canonical DER")
        }
    }

    /// The DER `ECDSA-Sig-Value` (what X.509 and OpenSSL use).
    public var derRepresentation: [UInt8] {
        get throws {
            let half = rawRepresentation.count / 2
            guard let signature = ECDSA_SIG_new() else { throw CryptoError.openSSL("ECDSA_SIG_new") }
            defer { ECDSA_SIG_free(signature) }
            guard let r = BN_bin2bn(rawRepresentation, Int32(half), nil) else { throw CryptoError.openSSL("BN_bin2bn") }
            guard
                let s = rawRepresentation.withUnsafeBufferPointer({
                    BN_bin2bn($0.baseAddress! + half, Int32(half), nil)
                })
            else {
                BN_free(r)
                throw CryptoError.openSSL("BN_bin2bn")
            }
            guard ECDSA_SIG_set0(signature, r, s) == 1 else {
                BN_free(r)
                BN_free(s)
                throw CryptoError.openSSL("ECDSA_SIG_set0")
            }
            var output: UnsafeMutablePointer<UInt8>?
            let length = i2d_ECDSA_SIG(signature, &output)
            guard length > 0, let output else { throw CryptoError.openSSL("i2d_ECDSA_SIG") }
            defer { cloister_OPENSSL_free(output) }
            return Array(UnsafeBufferPointer(start: output, count: Int(length)))
        }
    }
}

extension ECPrivateKey {
    /// Signs `message` with ECDSA, hashing it with `digest` (by default the curve's: SHA-256 for P-256, SHA-384 for P-384).
    public func signature(for message: some ContiguousBytesView, digest: DigestAlgorithm? = nil) throws
        -> ECDSASignature
    {
        let der = try digestSign(message, digest: digest ?? curve.defaultDigest)
        return try ECDSASignature(derRepresentation: der, curve: curve)
    }

    private func digestSign(_ message: some ContiguousBytesView, digest: DigestAlgorithm) throws -> [UInt8] {
        let context = try key.signingContext(digest)
        defer { EVP_MD_CTX_free(context) }
        var signature = [UInt8](repeating: 0, count: 2 * curve.coordinateByteCount + 16)
        var length = signature.count
        try message.withBytes { buffer in
            try requireOne(
                EVP_DigestSign(
                    context, &signature, &length, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count),
                "EVP_DigestSign"
            )
        }
        return Array(signature.prefix(length))
    }
}

extension ECPublicKey {
    /// Whether `signature` is a valid ECDSA signature over `message` (hashed with `digest`, by default the curve's).
    /// Returns false for any invalid signature, including one whose length does not fit the curve.
    public func isValidSignature(
        _ signature: ECDSASignature,
        for message: some ContiguousBytesView,
        digest: DigestAlgorithm? = nil
    ) -> Bool {
        guard signature.rawRepresentation.count == 2 * curve.coordinateByteCount,
            let der = try? signature.derRepresentation,
            let context = EVP_MD_CTX_new()
        else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, (digest ?? curve.defaultDigest).method, nil, key.pointer) == 1 else {
            ERR_clear_error()
            return false
        }
        let status = message.withBytes { buffer in
            EVP_DigestVerify(
                context, der, der.count, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count)
        }
        ERR_clear_error()
        return status == 1
    }
}
