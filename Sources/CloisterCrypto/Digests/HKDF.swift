internal import COpenSSL

/// HKDF (RFC 5869) through OpenSSL's EVP_KDF.
public enum HKDF {
    /// HKDF-Extract: a pseudorandom key (HashLen bytes) from input keying material.
    /// An empty salt means HashLen zero bytes (RFC 5869 §2.2).
    public static func extract(
        inputKeyMaterial: some ContiguousBytesView,
        salt: some ContiguousBytesView,
        digest: DigestAlgorithm
    ) throws -> [UInt8] {
        try inputKeyMaterial.withBytes { key in
            try salt.withBytes { salt in
                try derive(
                    mode: EVP_KDF_HKDF_MODE_EXTRACT_ONLY, key: key, salt: salt, info: nil,
                    length: digest.outputByteCount, digest: digest)
            }
        }
    }

    /// HKDF-Expand: `length` bytes (1...255·HashLen) of output keying material from a pseudorandom key of at
    /// least HashLen bytes and the context `info`.
    public static func expand(
        pseudorandomKey: some ContiguousBytesView,
        info: some ContiguousBytesView,
        length: Int,
        digest: DigestAlgorithm
    ) throws -> [UInt8] {
        try pseudorandomKey.withBytes { key in
            guard key.count >= digest.outputByteCount else {
                throw CryptoError(
                    .invalidParameter,
                    "HKDF-Expand pseudorandom key is \(key.count) bytes, at least \(digest.outputByteCount) required")
            }
            return try info.withBytes { info in
                try derive(
                    mode: EVP_KDF_HKDF_MODE_EXPAND_ONLY, key: key, salt: nil, info: info, length: length,
                    digest: digest)
            }
        }
    }

    /// Extract-then-expand in one call: `length` bytes (1...255·HashLen) of output keying material.
    public static func deriveKey(
        inputKeyMaterial: some ContiguousBytesView,
        salt: some ContiguousBytesView,
        info: some ContiguousBytesView,
        length: Int,
        digest: DigestAlgorithm
    ) throws -> [UInt8] {
        try inputKeyMaterial.withBytes { key in
            try salt.withBytes { salt in
                try info.withBytes { info in
                    try derive(
                        mode: EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND, key: key, salt: salt, info: info,
                        length: length, digest: digest)
                }
            }
        }
    }

    /// Runs OpenSSL's HKDF in `mode`. A nil `salt` or `info` is left out of the parameters.
    private static func derive(
        mode: Int32,
        key: UnsafeRawBufferPointer,
        salt: UnsafeRawBufferPointer?,
        info: UnsafeRawBufferPointer?,
        length: Int,
        digest: DigestAlgorithm
    ) throws -> [UInt8] {
        let maximum = 255 * digest.outputByteCount
        guard length > 0, length <= maximum else {
            throw CryptoError(
                .invalidParameter,
                "HKDF output length \(length) is outside 1...\(maximum) (255·HashLen) for \(digest.rawValue)")
        }
        // OpenSSL 3.0's HKDF cannot copy a context, so each derivation starts a fresh one and names its digest.
        guard let context = EVP_KDF_CTX_new(FetchedKDF.hkdf.pointer) else {
            throw CryptoError.openSSL("EVP_KDF_CTX_new(HKDF)")
        }
        defer { EVP_KDF_CTX_free(context) }
        // RFC 5869 §2.2: an absent salt is HashLen zeros; OpenSSL refuses an empty one, so it gets the zeros.
        let zeroSalt = [UInt8](repeating: 0, count: digest.outputByteCount)
        var modeValue = mode
        var output = [UInt8](repeating: 0, count: length)
        // OpenSSL needs a non-null pointer even for empty input keying material; every buffer stays pinned
        // until EVP_KDF_derive returns, and OpenSSL copies what it keeps.
        var empty: UInt8 = 0
        try withUnsafeMutablePointer(to: &empty) { emptyPointer in
            try zeroSalt.withUnsafeBytes { zeroSalt in
                func octets(_ name: PermanentCString, _ bytes: UnsafeRawBufferPointer) -> OSSL_PARAM {
                    let pointer = UnsafeMutableRawPointer(mutating: bytes.baseAddress)
                    return OSSL_PARAM_construct_octet_string(
                        name.pointer, pointer ?? UnsafeMutableRawPointer(emptyPointer), bytes.count)
                }
                var params = [
                    OSSL_PARAM_construct_int(OpenSSLName.mode.pointer, &modeValue),
                    OSSL_PARAM_construct_utf8_string(OpenSSLName.digest.pointer, digest.openSSLName.pointer, 0),
                    octets(OpenSSLName.key, key),
                ]
                if let salt {
                    params.append(octets(OpenSSLName.salt, salt.isEmpty ? zeroSalt : salt))
                }
                if let info, !info.isEmpty {
                    params.append(octets(OpenSSLName.info, info))
                }
                params.append(OSSL_PARAM_construct_end())
                try requireOne(EVP_KDF_derive(context, &output, length, params), "EVP_KDF_derive(HKDF)")
            }
        }
        return output
    }
}

/// The HKDF implementation, fetched once per process.
private final class FetchedKDF: @unchecked Sendable {
    let pointer: OpaquePointer

    private init() {
        guard let pointer = EVP_KDF_fetch(nil, OpenSSLName.hkdf.pointer, nil) else {
            fatalError("EVP_KDF_fetch(HKDF) failed: \(drainOpenSSLErrors())")
        }
        self.pointer = pointer
    }

    static let hkdf = FetchedKDF()
}
