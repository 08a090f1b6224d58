internal import COpenSSL

/// HMAC (RFC 2104) over a SHA-2 digest, through OpenSSL's EVP_MAC.
public enum HMAC {
    /// The MAC of `message` under `key`.
    public static func authenticationCode(
        for message: some ContiguousBytesView,
        key: some ContiguousBytesView,
        digest: DigestAlgorithm
    ) throws -> [UInt8] {
        // Copying a context that already names its digest skips the digest lookup a fresh context would repeat.
        guard let context = EVP_MAC_CTX_dup(MACTemplate.of(digest).context) else {
            throw CryptoError.openSSL("EVP_MAC_CTX_dup(HMAC-\(digest.rawValue))")
        }
        defer { EVP_MAC_CTX_free(context) }
        try key.withBytes { keyBytes in
            // A zero-length key is valid HMAC; OpenSSL reads a null key as "keep the previous key", so it gets a
            // non-null pointer to nothing.
            var empty: UInt8 = 0
            try withUnsafePointer(to: &empty) { emptyPointer in
                let keyPointer = keyBytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer
                try requireOne(
                    EVP_MAC_init(context, keyPointer, keyBytes.count, nil), "EVP_MAC_init(HMAC-\(digest.rawValue))")
            }
        }
        try message.withBytes { buffer in
            try requireOne(
                EVP_MAC_update(context, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count),
                "EVP_MAC_update")
        }
        var output = [UInt8](repeating: 0, count: digest.outputByteCount)
        var length = 0
        try requireOne(EVP_MAC_final(context, &output, &length, output.count), "EVP_MAC_final")
        guard length == output.count else {
            throw CryptoError(.library, "HMAC-\(digest.rawValue) produced \(length) bytes, expected \(output.count)")
        }
        return output
    }

    /// Whether `code` is the full-length MAC of `message` under `key`, compared in constant time.
    /// A truncated code never verifies: compare `authenticationCode(...).prefix(n)` yourself to accept one.
    public static func isValidAuthenticationCode(
        _ code: some ContiguousBytesView,
        for message: some ContiguousBytesView,
        key: some ContiguousBytesView,
        digest: DigestAlgorithm
    ) throws -> Bool {
        let expected = try authenticationCode(for: message, key: key, digest: digest)
        return constantTimeEquals(expected, code)
    }
}

/// Whether two byte strings are equal, in time that depends only on their lengths (`CRYPTO_memcmp`).
public func constantTimeEquals(_ lhs: some ContiguousBytesView, _ rhs: some ContiguousBytesView) -> Bool {
    lhs.withBytes { left in
        rhs.withBytes { right in
            guard left.count == right.count else { return false }
            guard left.count > 0 else { return true }
            return CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0
        }
    }
}

/// An unkeyed HMAC context per digest, built once per process and copied for each MAC.
/// It is only ever read after construction, so concurrent copies are safe.
private final class MACTemplate: @unchecked Sendable {
    let context: OpaquePointer

    private init(_ digest: DigestAlgorithm) {
        guard let mac = EVP_MAC_fetch(nil, OpenSSLName.hmac.pointer, nil) else {
            fatalError("EVP_MAC_fetch(HMAC) failed: \(drainOpenSSLErrors())")
        }
        // The context holds its own reference to the implementation.
        defer { EVP_MAC_free(mac) }
        let params = [
            OSSL_PARAM_construct_utf8_string(OpenSSLName.digest.pointer, digest.openSSLName.pointer, 0),
            OSSL_PARAM_construct_end(),
        ]
        guard let context = EVP_MAC_CTX_new(mac), EVP_MAC_CTX_set_params(context, params) == 1 else {
            fatalError("HMAC-\(digest.rawValue) context setup failed: \(drainOpenSSLErrors())")
        }
        self.context = context
    }

    private static let sha256 = MACTemplate(.sha256)
    private static let sha384 = MACTemplate(.sha384)
    private static let sha512 = MACTemplate(.sha512)

    static func of(_ digest: DigestAlgorithm) -> MACTemplate {
        switch digest {
        case .sha256: sha256
        case .sha384: sha384
        case .sha512: sha512
        }
    }
}
