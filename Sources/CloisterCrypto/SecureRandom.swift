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

/// A `RandomNumberGenerator` backed by OpenSSL's DRBG, read 4 KiB at a time: for code that draws many values (privacy
/// noise, Poisson sampling), where one `RAND_bytes` call per value would cost more than the values' use. Owned by one
/// caller; each word is wiped from the buffer once drawn (`RandomWords`).
///
/// `next()` is inlined into its callers, as `KeyedRandomStream`'s is; only the refill is a call.
public struct BufferedSecureRandom: RandomNumberGenerator, Sendable {
    @usableFromInline var words = RandomWords()

    /// A generator with its first 4 KiB drawn: the DRBG's start in a process (about 1.7 ms, OpenSSL loading its
    /// provider's ciphers) happens here, not in the first draw of the work that uses it. (A copy hands out the same
    /// words as the original: make a generator for each use, never copy one.)
    public init() { refill() }

    @inlinable
    public mutating func next() -> UInt64 {
        if words.isEmpty { refill() }
        return words.take()
    }

    @usableFromInline
    mutating func refill() {
        words.refill { bytes in
            let status = RAND_bytes(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(bytes.count))
            precondition(status == 1, "OpenSSL RAND_bytes failed: \(drainOpenSSLErrors())")
        }
    }
}
