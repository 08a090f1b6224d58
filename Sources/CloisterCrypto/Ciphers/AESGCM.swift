internal import COpenSSL

/// AES-GCM (NIST SP 800-38D) with a 128- or 256-bit key, 96-bit nonces and 128-bit tags.
///
/// The key schedule is computed once per key: each operation copies a keyed OpenSSL context instead of
/// re-expanding the key, which matters for the small messages that channels and sealed pages carry.
public final class AESGCMKey: @unchecked Sendable {
    /// Nonce length in bytes.
    public static let nonceByteCount = 12
    /// Authentication tag length in bytes.
    public static let tagByteCount = 16

    /// Key length in bytes: 16 (AES-128) or 32 (AES-256).
    public let byteCount: Int
    private let encryptTemplate: OpaquePointer
    private let decryptTemplate: OpaquePointer

    /// A key from 16 or 32 bytes.
    public init(_ key: some ContiguousBytesView) throws {
        // The working copy of the key is wiped on return; OpenSSL keeps only the keyed contexts.
        var bytes = key.withBytes { Array($0) }
        defer { bytes.withUnsafeMutableBytes { OPENSSL_cleanse($0.baseAddress, $0.count) } }
        let cipher: OpaquePointer
        switch bytes.count {
        case 16: cipher = FetchedCipher.aes128GCM.pointer
        case 32: cipher = FetchedCipher.aes256GCM.pointer
        default:
            throw CryptoError(.invalidKey, "AES-GCM key must be 16 or 32 bytes, got \(bytes.count)")
        }
        byteCount = bytes.count
        encryptTemplate = try Self.keyedContext(cipher, bytes, encrypt: true)
        do {
            decryptTemplate = try Self.keyedContext(cipher, bytes, encrypt: false)
        } catch {
            EVP_CIPHER_CTX_free(encryptTemplate)
            throw error
        }
    }

    /// A fresh random key of `byteCount` bytes (16 or 32).
    public convenience init(randomOfByteCount byteCount: Int = 32) throws {
        try self.init(SecureRandom.bytes(count: byteCount))
    }

    deinit {
        EVP_CIPHER_CTX_free(encryptTemplate)
        EVP_CIPHER_CTX_free(decryptTemplate)
    }

    private static func keyedContext(_ cipher: OpaquePointer, _ key: [UInt8], encrypt: Bool) throws -> OpaquePointer {
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError.openSSL("EVP_CIPHER_CTX_new") }
        let status =
            encrypt
            ? EVP_EncryptInit_ex2(context, cipher, key, nil, nil)
            : EVP_DecryptInit_ex2(context, cipher, key, nil, nil)
        guard status == 1 else {
            EVP_CIPHER_CTX_free(context)
            throw CryptoError.openSSL("EVP_CipherInit_ex2(AES-GCM key)")
        }
        return context
    }

    /// Encrypts `plaintext` and authenticates it with `associatedData`; returns `ciphertext || tag`.
    public func seal(
        _ plaintext: some ContiguousBytesView,
        nonce: some ContiguousBytesView,
        associatedData: some ContiguousBytesView = [UInt8]()
    ) throws -> [UInt8] {
        let context = try operationContext(from: encryptTemplate, nonce: nonce, encrypt: true)
        defer { EVP_CIPHER_CTX_free(context) }
        try associatedData.withBytes { try Self.authenticate(context, $0, encrypt: true) }
        return try plaintext.withBytes { input in
            try [UInt8](unsafeUninitializedCapacity: input.count + Self.tagByteCount) { output, initialized in
                var written: Int32 = 0
                if input.count > 0 {
                    try requireOne(
                        EVP_EncryptUpdate(
                            context, output.baseAddress, &written,
                            input.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(input.count)),
                        "EVP_EncryptUpdate")
                }
                var finalWritten: Int32 = 0
                try requireOne(
                    EVP_EncryptFinal_ex(context, output.baseAddress! + Int(written), &finalWritten),
                    "EVP_EncryptFinal_ex")
                try requireOne(
                    EVP_CIPHER_CTX_ctrl(
                        context, EVP_CTRL_AEAD_GET_TAG, Int32(Self.tagByteCount), output.baseAddress! + input.count),
                    "EVP_CTRL_AEAD_GET_TAG")
                initialized = input.count + Self.tagByteCount
            }
        }
    }

    /// Checks the tag of `ciphertext || tag` against `associatedData` and returns the plaintext.
    /// Throws `.authenticationFailure` (and returns nothing) when anything was altered or the key is wrong.
    public func open(
        _ sealed: some ContiguousBytesView,
        nonce: some ContiguousBytesView,
        associatedData: some ContiguousBytesView = [UInt8]()
    ) throws -> [UInt8] {
        try sealed.withBytes { input in
            guard input.count >= Self.tagByteCount else {
                throw CryptoError(
                    .malformedInput,
                    "AES-GCM input is \(input.count) bytes, shorter than the \(Self.tagByteCount)-byte tag")
            }
            let context = try operationContext(from: decryptTemplate, nonce: nonce, encrypt: false)
            defer { EVP_CIPHER_CTX_free(context) }
            try associatedData.withBytes { try Self.authenticate(context, $0, encrypt: false) }
            let ciphertextCount = input.count - Self.tagByteCount
            let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
            var tag = Array(UnsafeBufferPointer(start: base! + ciphertextCount, count: Self.tagByteCount))
            try requireOne(
                EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(Self.tagByteCount), &tag),
                "EVP_CTRL_AEAD_SET_TAG")
            var plaintext = try [UInt8](unsafeUninitializedCapacity: ciphertextCount) { output, initialized in
                var written: Int32 = 0
                if ciphertextCount > 0 {
                    try requireOne(
                        EVP_DecryptUpdate(context, output.baseAddress, &written, base, Int32(ciphertextCount)),
                        "EVP_DecryptUpdate")
                }
                initialized = ciphertextCount
            }
            var finalWritten: Int32 = 0
            let verified = plaintext.withUnsafeMutableBufferPointer { output in
                var scratch: UInt8 = 0
                return EVP_DecryptFinal_ex(
                    context, output.baseAddress ?? withUnsafeMutablePointer(to: &scratch) { $0 }, &finalWritten)
            }
            guard verified == 1 else {
                ERR_clear_error()
                // Never hand back plaintext whose tag failed.
                plaintext.withUnsafeMutableBufferPointer { buffer in
                    if let base = buffer.baseAddress { OPENSSL_cleanse(base, buffer.count) }
                }
                throw CryptoError(
                    .authenticationFailure,
                    "AES-GCM tag check failed: wrong key, nonce or associated data, or altered ciphertext")
            }
            return plaintext
        }
    }

    private func operationContext(
        from template: OpaquePointer,
        nonce: some ContiguousBytesView,
        encrypt: Bool
    ) throws -> OpaquePointer {
        guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError.openSSL("EVP_CIPHER_CTX_new") }
        do {
            try requireOne(EVP_CIPHER_CTX_copy(context, template), "EVP_CIPHER_CTX_copy")
            try nonce.withBytes { iv in
                guard iv.count == Self.nonceByteCount else {
                    throw CryptoError(
                        .invalidParameter, "AES-GCM nonce must be \(Self.nonceByteCount) bytes, got \(iv.count)")
                }
                let pointer = iv.baseAddress?.assumingMemoryBound(to: UInt8.self)
                let status =
                    encrypt
                    ? EVP_EncryptInit_ex2(context, nil, nil, pointer, nil)
                    : EVP_DecryptInit_ex2(context, nil, nil, pointer, nil)
                try requireOne(status, "EVP_CipherInit_ex2(AES-GCM nonce)")
            }
            return context
        } catch {
            EVP_CIPHER_CTX_free(context)
            throw error
        }
    }

    private static func authenticate(_ context: OpaquePointer, _ data: UnsafeRawBufferPointer, encrypt: Bool) throws {
        guard data.count > 0 else { return }
        var written: Int32 = 0
        let pointer = data.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let status =
            encrypt
            ? EVP_EncryptUpdate(context, nil, &written, pointer, Int32(data.count))
            : EVP_DecryptUpdate(context, nil, &written, pointer, Int32(data.count))
        try requireOne(status, "EVP_CipherUpdate(AES-GCM associated data)")
    }
}

/// AES-GCM implementations, fetched once per process.
final class FetchedCipher: @unchecked Sendable {
    let pointer: OpaquePointer

    private init(_ name: PermanentCString) {
        guard let pointer = EVP_CIPHER_fetch(nil, name.pointer, nil) else {
            fatalError("EVP_CIPHER_fetch failed: \(drainOpenSSLErrors())")
        }
        self.pointer = pointer
    }

    static let aes128GCM = FetchedCipher(OpenSSLName.aes128GCM)
    static let aes256GCM = FetchedCipher(OpenSSLName.aes256GCM)
}
