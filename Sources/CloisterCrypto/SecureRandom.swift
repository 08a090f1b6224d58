internal import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG.
public enum SecureRandom {
    /// Returns `count` random bytes.
    public static func bytes(count: Int) throws -> [UInt8] {
        guard count >= 0 else { throw CryptoError(.invalidParameter, "random byte count \(count) is negative") }
        var output = [UInt8](repeating: 0, count: count)
        if count > 0 {
            try output.withUnsafeMutableBytes { buffer in
                try requireOne(
                    RAND_bytes(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(count)), "RAND_bytes")
            }
        }
        return output
    }
}

/// A `RandomNumberGenerator` backed by OpenSSL's DRBG, for code that must not use a predictable source.
public struct SecureRandomNumberGenerator: RandomNumberGenerator, Sendable {
    public init() {}

    public mutating func next() -> UInt64 {
        var value: UInt64 = 0
        let status = withUnsafeMutableBytes(of: &value) { buffer in
            RAND_bytes(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(buffer.count))
        }
        // RAND_bytes fails only when the DRBG cannot be seeded; continuing would hand out predictable values.
        precondition(status == 1, "OpenSSL RAND_bytes failed: \(drainOpenSSLErrors())")
        return value
    }
}
