internal import COpenSSL

/// An AES-GCM key (NIST SP 800-38D) of 128 or 256 bits, used with 96-bit nonces and 128-bit tags.
///
/// The key schedule is computed once per key: operations run on copies of a keyed OpenSSL context, kept in a pool
/// and only re-initialised with each nonce, which matters for the small messages that channels and sealed pages
/// carry. The key bytes themselves are wiped once the contexts are keyed.
public final class AESGCMKey: @unchecked Sendable {
    /// Nonce length in bytes.
    public static let nonceByteCount = 12
    /// Authentication tag length in bytes.
    public static let tagByteCount = 16

    /// Key length in bytes: 16 (AES-128) or 32 (AES-256).
    public let byteCount: Int
    // Keyed templates, only ever read (copied into the pools' contexts) after init.
    private let encryptTemplate: OpaquePointer
    private let decryptTemplate: OpaquePointer
    private let encryptContexts: ContextPool
    private let decryptContexts: ContextPool

    /// A key from 16 bytes (AES-128-GCM) or 32 bytes (AES-256-GCM).
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
        encryptTemplate = try keyedCipherContext(cipher, bytes, encrypt: true, "AES-GCM key")
        do {
            decryptTemplate = try keyedCipherContext(cipher, bytes, encrypt: false, "AES-GCM key")
        } catch {
            EVP_CIPHER_CTX_free(encryptTemplate)
            throw error
        }
        encryptContexts = ContextPool(
            make: { [encryptTemplate] in try copiedCipherContext(encryptTemplate) },
            release: { EVP_CIPHER_CTX_free($0) })
        decryptContexts = ContextPool(
            make: { [decryptTemplate] in try copiedCipherContext(decryptTemplate) },
            release: { EVP_CIPHER_CTX_free($0) })
    }

    /// A fresh random key of `byteCount` bytes (16 or 32).
    public convenience init(randomOfByteCount byteCount: Int = 32) throws {
        try self.init(SecureRandom.bytes(count: byteCount))
    }

    deinit {
        EVP_CIPHER_CTX_free(encryptTemplate)
        EVP_CIPHER_CTX_free(decryptTemplate)
    }

    /// Encrypts `plaintext` and authenticates it with `associatedData`; returns `ciphertext || tag`.
    /// Never reuse a nonce with the same key.
    public func seal(
        _ plaintext: some ContiguousBytesView,
        nonce: some ContiguousBytesView,
        associatedData: some ContiguousBytesView = [UInt8]()
    ) throws -> [UInt8] {
        try seal(plaintext, nonce: nonce, associatedData: associatedData, framedBy: [], [])
    }

    /// `prefix || ciphertext || tag || suffix`, written into one buffer: a container format frames the ciphertext
    /// without copying it again.
    public func seal(
        _ plaintext: some ContiguousBytesView,
        nonce: some ContiguousBytesView,
        associatedData: some ContiguousBytesView = [UInt8](),
        framedBy prefix: [UInt8], _ suffix: [UInt8]
    ) throws -> [UInt8] {
        try encryptContexts.withContext { context in
            try Self.start(context, nonce: nonce, encrypt: true)
            try associatedData.withBytes { try Self.authenticate(context, $0, encrypt: true) }
            return try Self.encrypt(context, plaintext, framedBy: prefix, suffix)
        }
    }

    /// Encrypts on a started context into one buffer `prefix || ciphertext || tag || suffix`.
    private static func encrypt(
        _ context: OpaquePointer, _ plaintext: some ContiguousBytesView, framedBy prefix: [UInt8], _ suffix: [UInt8]
    ) throws -> [UInt8] {
        try plaintext.withBytes { input in
            let total = prefix.count + input.count + Self.tagByteCount + suffix.count
            // Ciphertext and tag are written straight into the result: no intermediate buffers.
            return try [UInt8](unsafeUninitializedCapacity: total) { output, initialized in
                let start = output.baseAddress!
                prefix.withUnsafeBufferPointer {
                    if let source = $0.baseAddress { start.update(from: source, count: $0.count) }
                }
                let base = start + prefix.count
                try Self.transform(context, input, into: base, encrypt: true)
                var finalWritten: Int32 = 0
                try requireOne(EVP_EncryptFinal_ex(context, base + input.count, &finalWritten), "EVP_EncryptFinal_ex")
                try requireOne(
                    EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_GET_TAG, Int32(Self.tagByteCount), base + input.count),
                    "EVP_CTRL_AEAD_GET_TAG")
                suffix.withUnsafeBufferPointer {
                    if let source = $0.baseAddress {
                        (base + input.count + Self.tagByteCount).update(from: source, count: $0.count)
                    }
                }
                initialized = total
            }
        }
    }

    /// Checks the tag of `ciphertext || tag` against `associatedData` and returns the plaintext.
    /// Throws `.authenticationFailure` (and returns nothing) when anything was altered or the key or nonce is wrong.
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
            return try decryptContexts.withContext { context in
                try Self.start(context, nonce: nonce, encrypt: false)
                try associatedData.withBytes { try Self.authenticate(context, $0, encrypt: false) }
                return try Self.decrypt(context, input)
            }
        }
    }

    /// Decrypts `ciphertext || tag` on a started context; the plaintext only when the tag verifies.
    private static func decrypt(_ context: OpaquePointer, _ input: UnsafeRawBufferPointer) throws -> [UInt8] {
        let ciphertext = UnsafeRawBufferPointer(rebasing: input.dropLast(Self.tagByteCount))
        // OpenSSL takes the expected tag through a non-const pointer but only reads it.
        let tag = UnsafeMutableRawPointer(mutating: input.baseAddress! + ciphertext.count)
        try requireOne(
            EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_AEAD_SET_TAG, Int32(Self.tagByteCount), tag),
            "EVP_CTRL_AEAD_SET_TAG")
        var verified: Int32 = 0
        var plaintext = try [UInt8](unsafeUninitializedCapacity: ciphertext.count) { output, initialized in
            var scratch: UInt8 = 0
            try withUnsafeMutablePointer(to: &scratch) { scratchPointer in
                let base = output.baseAddress ?? scratchPointer
                try Self.transform(context, ciphertext, into: base, encrypt: false)
                var finalWritten: Int32 = 0
                verified = EVP_DecryptFinal_ex(context, base + ciphertext.count, &finalWritten)
            }
            initialized = ciphertext.count
        }
        guard verified == 1 else {
            ERR_clear_error()
            // Never hand back, or leave behind, plaintext whose tag failed.
            plaintext.withUnsafeMutableBytes { if let base = $0.baseAddress { OPENSSL_cleanse(base, $0.count) } }
            throw CryptoError(
                .authenticationFailure,
                "AES-GCM tag check failed: wrong key, nonce or associated data, or altered ciphertext")
        }
        return plaintext
    }

    /// Starts an operation on a keyed context with `nonce` (the key schedule stays).
    private static func start(_ context: OpaquePointer, nonce: some ContiguousBytesView, encrypt: Bool) throws {
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
    }

    /// OpenSSL's update calls take an `int` length, so inputs go through in chunks that fit one.
    private static let chunkByteCount = 1 << 30

    /// Encrypts or decrypts `input` into `output` (which has room for `input.count` bytes).
    private static func transform(
        _ context: OpaquePointer,
        _ input: UnsafeRawBufferPointer,
        into output: UnsafeMutablePointer<UInt8>,
        encrypt: Bool
    ) throws {
        var offset = 0
        while offset < input.count {
            let count = min(chunkByteCount, input.count - offset)
            let source = input.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset
            var written: Int32 = 0
            let status =
                encrypt
                ? EVP_EncryptUpdate(context, output + offset, &written, source, Int32(count))
                : EVP_DecryptUpdate(context, output + offset, &written, source, Int32(count))
            try requireOne(status, encrypt ? "EVP_EncryptUpdate" : "EVP_DecryptUpdate")
            guard written == count else {
                throw CryptoError(.library, "AES-GCM update wrote \(written) of \(count) bytes")
            }
            offset += count
        }
    }

    private static func authenticate(_ context: OpaquePointer, _ data: UnsafeRawBufferPointer, encrypt: Bool) throws {
        var offset = 0
        while offset < data.count {
            let count = min(chunkByteCount, data.count - offset)
            let pointer = data.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset
            var written: Int32 = 0
            let status =
                encrypt
                ? EVP_EncryptUpdate(context, nil, &written, pointer, Int32(count))
                : EVP_DecryptUpdate(context, nil, &written, pointer, Int32(count))
            try requireOne(status, "EVP_CipherUpdate(AES-GCM associated data)")
            offset += count
        }
    }
}

/// AES-GCM as values: a sealed box carries its nonce, ciphertext and tag together.
public enum AESGCM {
    /// What `seal` produces: the nonce and `ciphertext || tag`.
    public struct SealedBox: Sendable, Hashable {
        /// The 12-byte nonce the message was sealed under.
        public let nonce: [UInt8]
        /// `ciphertext || tag`, the form most protocols send.
        public let combined: [UInt8]

        /// The ciphertext, as long as the plaintext.
        public var ciphertext: ArraySlice<UInt8> { combined.dropLast(AESGCMKey.tagByteCount) }
        /// The 16-byte authentication tag.
        public var tag: ArraySlice<UInt8> { combined.suffix(AESGCMKey.tagByteCount) }

        /// A box from a nonce and `ciphertext || tag`, checking both lengths.
        public init(nonce: some ContiguousBytesView, combined: some ContiguousBytesView) throws {
            let nonce = nonce.withBytes { Array($0) }
            let combined = combined.withBytes { Array($0) }
            guard nonce.count == AESGCMKey.nonceByteCount else {
                throw CryptoError(
                    .invalidParameter, "AES-GCM nonce must be \(AESGCMKey.nonceByteCount) bytes, got \(nonce.count)")
            }
            guard combined.count >= AESGCMKey.tagByteCount else {
                throw CryptoError(
                    .malformedInput,
                    "AES-GCM sealed box is \(combined.count) bytes, shorter than the "
                        + "\(AESGCMKey.tagByteCount)-byte tag")
            }
            self.nonce = nonce
            self.combined = combined
        }

        /// A box from its three parts; the tag must be 16 bytes.
        public init(
            nonce: some ContiguousBytesView,
            ciphertext: some ContiguousBytesView,
            tag: some ContiguousBytesView
        ) throws {
            let tag = tag.withBytes { Array($0) }
            guard tag.count == AESGCMKey.tagByteCount else {
                throw CryptoError(
                    .malformedInput, "AES-GCM tag must be \(AESGCMKey.tagByteCount) bytes, got \(tag.count)")
            }
            try self.init(nonce: nonce, combined: ciphertext.withBytes { Array($0) } + tag)
        }
    }

    /// Encrypts `plaintext` under `key`, authenticating `associatedData`. Without a `nonce` a random one is drawn,
    /// which is the safe choice; pass one only when the protocol fixes it, and never reuse it with the same key.
    public static func seal(
        _ plaintext: some ContiguousBytesView,
        key: AESGCMKey,
        nonce: [UInt8]? = nil,
        associatedData: some ContiguousBytesView = [UInt8]()
    ) throws -> SealedBox {
        let nonce = try nonce ?? SecureRandom.bytes(count: AESGCMKey.nonceByteCount)
        let combined = try key.seal(plaintext, nonce: nonce, associatedData: associatedData)
        return try SealedBox(nonce: nonce, combined: combined)
    }

    /// Verifies and decrypts `box`; throws `.authenticationFailure` if anything was altered or the key is wrong.
    public static func open(
        _ box: SealedBox,
        key: AESGCMKey,
        associatedData: some ContiguousBytesView = [UInt8]()
    ) throws -> [UInt8] {
        try key.open(box.combined, nonce: box.nonce, associatedData: associatedData)
    }
}

/// A cipher context keyed with `key` for `cipher`, to copy for each operation; `what` names it in an error.
func keyedCipherContext(_ cipher: OpaquePointer, _ key: [UInt8], encrypt: Bool, _ what: String) throws
    -> OpaquePointer
{
    guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError.openSSL("EVP_CIPHER_CTX_new") }
    let status =
        encrypt
        ? EVP_EncryptInit_ex2(context, cipher, key, nil, nil) : EVP_DecryptInit_ex2(context, cipher, key, nil, nil)
    guard status == 1 else {
        EVP_CIPHER_CTX_free(context)
        throw CryptoError.openSSL("EVP_CipherInit_ex2(\(what))")
    }
    return context
}

/// A copy of the keyed context `template`, key schedule included.
func copiedCipherContext(_ template: OpaquePointer) throws -> OpaquePointer {
    guard let context = EVP_CIPHER_CTX_new() else { throw CryptoError.openSSL("EVP_CIPHER_CTX_new") }
    guard EVP_CIPHER_CTX_copy(context, template) == 1 else {
        EVP_CIPHER_CTX_free(context)
        throw CryptoError.openSSL("EVP_CIPHER_CTX_copy")
    }
    return context
}

/// AES implementations, fetched once per process.
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
    static let aes256CTR = FetchedCipher(OpenSSLName.aes256CTR)
}
