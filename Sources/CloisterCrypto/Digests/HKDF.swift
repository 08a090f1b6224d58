internal import COpenSSL

/// HKDF (RFC 5869) through OpenSSL's EVP_KDF.
public enum HKDF {
    /// HKDF-Extract: a pseudorandom key from input keying material. An empty salt means HashLen zero bytes.
    public static func extract(
        inputKeyMaterial: some ContiguousBytesView,
        salt: some ContiguousBytesView,
        digest: DigestAlgorithm
    ) throws -> [UInt8] {
        try derive(
            mode: 1,  // EVP_KDF_HKDF_MODE_EXTRACT_ONLY
            key: inputKeyMaterial.withBytes { Array($0) },
            salt: salt.withBytes { Array($0) },
            info: [],
            length: digest.outputByteCount,
            digest: digest
        )
    }

    /// HKDF-Expand: `length` bytes of output keying material from a pseudorandom key and context `info`.
    public static func expand(
        pseudorandomKey: some ContiguousBytesView,
        info: some ContiguousBytesView,
        length: Int,
        digest: DigestAlgorithm
    ) throws -> [UInt8] {
        let key = pseudorandomKey.withBytes { Array($0) }
        guard key.count >= digest.outputByteCount else {
            throw CryptoError(
                .invalidParameter,
                "HKDF-Expand pseudorandom key is \(key.count) bytes, at least \(digest.outputByteCount) required"
            )
        }
        return try derive(
            mode: 2, key: key, salt: nil, info: info.withBytes { Array($0) }, length: length, digest: digest)
    }

    /// Extract-then-expand in one call.
    public static func deriveKey(
        inputKeyMaterial: some ContiguousBytesView,
        salt: some ContiguousBytesView,
        info: some ContiguousBytesView,
        length: Int,
        digest: DigestAlgorithm
    ) throws -> [UInt8] {
        try derive(
            mode: 0,
            key: inputKeyMaterial.withBytes { Array($0) },
            salt: salt.withBytes { Array($0) },
            info: info.withBytes { Array($0) },
            length: length,
            digest: digest
        )
    }

    private static func derive(
        mode: Int32,
        key: [UInt8],
        salt: [UInt8]?,
        info: [UInt8],
        length: Int,
        digest: DigestAlgorithm
    ) throws -> [UInt8] {
        let maximum = 255 * digest.outputByteCount
        guard length > 0, length <= maximum else {
            throw CryptoError(
                .invalidParameter, "HKDF output length \(length) is outside 1...\(maximum) for \(digest.rawValue)")
        }
        // RFC 5869 §2.2: a missing salt is HashLen zeros (OpenSSL rejects an empty one).
        let effectiveSalt = salt.map { $0.isEmpty ? [UInt8](repeating: 0, count: digest.outputByteCount) : $0 }
        guard let context = EVP_KDF_CTX_new(FetchedKDF.hkdf.pointer) else {
            throw CryptoError.openSSL("EVP_KDF_CTX_new")
        }
        defer { EVP_KDF_CTX_free(context) }
        var modeValue = mode
        var output = [UInt8](repeating: 0, count: length)
        // OpenSSL needs non-null pointers even for empty inputs; every buffer stays pinned through EVP_KDF_derive.
        let keyStorage = key.isEmpty ? [0] : key
        let infoStorage = info.isEmpty ? [0] : info
        let saltStorage = effectiveSalt ?? [0]
        try keyStorage.withUnsafeBufferPointer { keyPointer in
            try saltStorage.withUnsafeBufferPointer { saltPointer in
                try infoStorage.withUnsafeBufferPointer { infoPointer in
                    var params = [
                        OSSL_PARAM_construct_int(OpenSSLName.mode.pointer, &modeValue),
                        OSSL_PARAM_construct_utf8_string(OpenSSLName.digest.pointer, digest.openSSLName.pointer, 0),
                        OSSL_PARAM_construct_octet_string(
                            OpenSSLName.key.pointer, UnsafeMutableRawPointer(mutating: keyPointer.baseAddress),
                            key.count),
                    ]
                    if effectiveSalt != nil {
                        params.append(
                            OSSL_PARAM_construct_octet_string(
                                OpenSSLName.salt.pointer, UnsafeMutableRawPointer(mutating: saltPointer.baseAddress),
                                saltStorage.count))
                    }
                    if !info.isEmpty {
                        params.append(
                            OSSL_PARAM_construct_octet_string(
                                OpenSSLName.info.pointer, UnsafeMutableRawPointer(mutating: infoPointer.baseAddress),
                                info.count))
                    }
                    params.append(OSSL_PARAM_construct_end())
                    try requireOne(EVP_KDF_derive(context, &output, length, params), "EVP_KDF_derive(HKDF)")
                }
            }
        }
        return output
    }
}

/// The HKDF implementation, fetched once per process.
final class FetchedKDF: @unchecked Sendable {
    let pointer: OpaquePointer

    private init() {
        guard let pointer = EVP_KDF_fetch(nil, OpenSSLName.hkdf.pointer, nil) else {
            fatalError("EVP_KDF_fetch(HKDF) failed: \(drainOpenSSLErrors())")
        }
        self.pointer = pointer
    }

    static let hkdf = FetchedKDF()
}
