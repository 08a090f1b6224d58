internal import COpenSSL

/// An AES-256 key for CTR keystreams (NIST SP 800-38A): the key schedule is computed once, and each keystream runs
/// on a copy of the keyed context from a pool, started at its counter block. The key bytes are wiped once the context
/// is keyed. Only keystreams are offered: unauthenticated CTR encryption is not a way to protect data (AES-GCM is).
public final class AESCTRKey: @unchecked Sendable {
    /// Key length in bytes.
    public static let byteCount = 32
    /// Counter block length in bytes.
    public static let counterByteCount = 16

    // The keyed template, only ever read (copied into the pool's contexts) after init.
    private let template: OpaquePointer
    private let contexts: ContextPool

    /// A key from 32 bytes.
    public init(_ key: some ContiguousBytesView) throws {
        var bytes = key.withBytes { Array($0) }
        defer { bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        guard bytes.count == Self.byteCount else {
            throw CryptoError(.invalidKey, "an AES-256-CTR key must be \(Self.byteCount) bytes, got \(bytes.count)")
        }
        template = try keyedCipherContext(FetchedCipher.aes256CTR.pointer, bytes, encrypt: true, "AES-CTR key")
        contexts = ContextPool(
            make: { [template] in try copiedCipherContext(template) }, release: { EVP_CIPHER_CTX_free($0) })
    }

    /// A fresh random key from OpenSSL's DRBG (its bytes wiped once keyed).
    public static func random() throws -> AESCTRKey {
        var bytes = try SecureRandom.bytes(count: byteCount)
        defer { bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        return try AESCTRKey(bytes)
    }

    deinit {
        EVP_CIPHER_CTX_free(template)
    }

    /// Overwrites `buffer` with the keystream from the 16-byte counter block `counter` on (the counter is incremented
    /// as a 128-bit big-endian integer from one 16-byte block to the next).
    public func keystream(from counter: [UInt8], into buffer: UnsafeMutableRawBufferPointer) throws {
        guard counter.count == Self.counterByteCount else {
            throw CryptoError(
                .invalidParameter,
                "an AES-CTR counter block must be \(Self.counterByteCount) bytes, got \(counter.count)")
        }
        guard let base = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        guard buffer.count <= Int(Int32.max) else {
            throw CryptoError(.invalidParameter, "a keystream of \(buffer.count) bytes is past one update's length")
        }
        try contexts.withContext { context in
            try requireOne(EVP_EncryptInit_ex2(context, nil, nil, counter, nil), "EVP_EncryptInit_ex2(AES-CTR counter)")
            // The keystream is the encryption of zeros, in place.
            base.update(repeating: 0, count: buffer.count)
            var written: Int32 = 0
            try requireOne(EVP_EncryptUpdate(context, base, &written, base, Int32(buffer.count)), "EVP_EncryptUpdate")
            guard written == Int32(buffer.count) else {
                throw CryptoError(.library, "AES-CTR update wrote \(written) of \(buffer.count) bytes")
            }
        }
    }
}
