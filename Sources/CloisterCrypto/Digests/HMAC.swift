internal import COpenSSL

/// HMAC (RFC 2104) over a SHA-2 digest, through OpenSSL's EVP_MAC.
public enum HMAC {
    /// The MAC of `message` under `key`.
    public static func authenticationCode(
        for message: some ContiguousBytesView,
        key: some ContiguousBytesView,
        digest: DigestAlgorithm
    ) throws -> [UInt8] {
        guard let context = EVP_MAC_CTX_new(FetchedMAC.hmac.pointer) else {
            throw CryptoError.openSSL("EVP_MAC_CTX_new")
        }
        defer { EVP_MAC_CTX_free(context) }
        let params = [
            OSSL_PARAM_construct_utf8_string(OpenSSLName.digest.pointer, digest.openSSLName.pointer, 0),
            OSSL_PARAM_construct_end(),
        ]
        try key.withBytes { keyBytes in
            // A zero-length key is valid HMAC; OpenSSL needs a non-null pointer for it.
            var empty: UInt8 = 0
            let keyPointer = keyBytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
            try withUnsafePointer(to: &empty) { emptyPointer in
                try requireOne(
                    EVP_MAC_init(context, keyPointer ?? emptyPointer, keyBytes.count, params),
                    "EVP_MAC_init(HMAC-\(digest.rawValue))"
                )
            }
        }
        try message.withBytes { buffer in
            try requireOne(
                EVP_MAC_update(context, buffer.baseAddress?.assumingMemoryBound(to: UInt8.self), buffer.count),
                "EVP_MAC_update"
            )
        }
        var output = [UInt8](repeating: 0, count: digest.outputByteCount)
        var length = 0
        try requireOne(EVP_MAC_final(context, &output, &length, output.count), "EVP_MAC_final")
        return output
    }

    /// Whether `code` is the MAC of `message` under `key`, compared in constant time.
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

/// Whether two byte strings are equal, in time that depends only on their lengths.
public func constantTimeEquals(_ lhs: some ContiguousBytesView, _ rhs: some ContiguousBytesView) -> Bool {
    lhs.withBytes { left in
        rhs.withBytes { right in
            guard left.count == right.count else { return false }
            guard left.count > 0 else { return true }
            return CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0
        }
    }
}

/// The HMAC implementation, fetched once per process.
final class FetchedMAC: @unchecked Sendable {
    let pointer: OpaquePointer

    private init() {
        guard let pointer = EVP_MAC_fetch(nil, OpenSSLName.hmac.pointer, nil) else {
            fatalError("EVP_MAC_fetch(HMAC) failed: \(drainOpenSSLErrors())")
        }
        self.pointer = pointer
    }

    static let hmac = FetchedMAC()
}
