internal import COpenSSL
import Synchronization

/// Sole owner of an `EVP_PKEY`. OpenSSL keys are immutable once built and safe to use from several threads.
final class EVPKey: @unchecked Sendable {
    let pointer: OpaquePointer
    /// What a pooled context is initialised for: signing or verifying digests made with one algorithm.
    enum Operation: Hashable {
        case sign(DigestAlgorithm)
        case verify(DigestAlgorithm)
    }

    /// Contexts per operation, initialised once and reused: initialising one looks up the key's provider
    /// operations every time, which costs as much as a signature itself in OpenSSL 3.
    private let contexts = Mutex<[Operation: ContextPool]>([:])

    init(taking pointer: OpaquePointer) {
        self.pointer = pointer
    }

    deinit { EVP_PKEY_free(pointer) }

    /// Runs `body` with a context initialised for `EVP_PKEY_sign` or `EVP_PKEY_verify` with this key.
    func withContext<R>(_ operation: Operation, _ body: (OpaquePointer) throws -> R) throws -> R {
        let pool = contexts.withLock { pools in
            if let pool = pools[operation] { return pool }
            let pool = ContextPool(
                make: { [pointer] in try Self.context(pointer, operation) }, release: { EVP_PKEY_CTX_free($0) })
            pools[operation] = pool
            return pool
        }
        return try pool.withContext(body)
    }

    private static func context(_ key: OpaquePointer, _ operation: Operation) throws -> OpaquePointer {
        guard let context = EVP_PKEY_CTX_new_from_pkey(nil, key, nil) else {
            throw CryptoError.openSSL("EVP_PKEY_CTX_new_from_pkey")
        }
        let initialised: Bool
        switch operation {
        case .sign(let digest):
            initialised =
                EVP_PKEY_sign_init(context) == 1 && EVP_PKEY_CTX_set_signature_md(context, digest.method) == 1
        case .verify(let digest):
            initialised =
                EVP_PKEY_verify_init(context) == 1 && EVP_PKEY_CTX_set_signature_md(context, digest.method) == 1
        }
        guard initialised else {
            EVP_PKEY_CTX_free(context)
            throw CryptoError.openSSL("EVP_PKEY_\(operation)_init")
        }
        return context
    }

    /// The curve of an EC key; throws for any other key type or curve.
    func ecCurve() throws -> ECCurve {
        guard EVP_PKEY_is_a(pointer, "EC") == 1 else {
            throw CryptoError(.invalidKey, "key is not an elliptic-curve key")
        }
        var name = [CChar](repeating: 0, count: 64)
        var length = 0
        try requireOne(EVP_PKEY_get_group_name(pointer, &name, name.count, &length), "EVP_PKEY_get_group_name")
        let groupName = String(decoding: name.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let curve = ECCurve(groupName: groupName) else {
            throw CryptoError(.invalidKey, "unsupported elliptic curve \(groupName) (P-256 and P-384 are supported)")
        }
        return curve
    }

    /// Decodes a key of `keyType` (EC unless told) from DER or PEM (`inputType`), for `selection` (public key or key
    /// pair).
    static func decode(
        _ bytes: some ContiguousBytesView,
        inputType: PermanentCString,
        selection: Int32,
        what: String,
        keyType: PermanentCString = OpenSSLName.ecKeyType,
        keyName: String = "EC"
    ) throws -> EVPKey {
        var key: OpaquePointer?
        guard
            let decoder = OSSL_DECODER_CTX_new_for_pkey(
                &key, inputType.pointer, nil, keyType.pointer, selection, nil, nil)
        else {
            throw CryptoError.openSSL("OSSL_DECODER_CTX_new_for_pkey")
        }
        defer { OSSL_DECODER_CTX_free(decoder) }
        let status: Int32 = bytes.withBytes { buffer in
            var cursor = buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
            var remaining = buffer.count
            return OSSL_DECODER_from_data(decoder, &cursor, &remaining)
        }
        guard status == 1, let key else {
            throw CryptoError(.malformedInput, "\(what) is not a valid \(keyName) key: \(drainOpenSSLErrors())")
        }
        return EVPKey(taking: key)
    }

    /// Encodes the key as DER or PEM (`outputType`) in the given ASN.1 `structure`.
    func encode(outputType: PermanentCString, structure: PermanentCString, selection: Int32) throws -> [UInt8] {
        guard
            let encoder = OSSL_ENCODER_CTX_new_for_pkey(pointer, selection, outputType.pointer, structure.pointer, nil)
        else {
            throw CryptoError.openSSL("OSSL_ENCODER_CTX_new_for_pkey")
        }
        defer { OSSL_ENCODER_CTX_free(encoder) }
        var data: UnsafeMutablePointer<UInt8>?
        var length = 0
        try requireOne(OSSL_ENCODER_to_data(encoder, &data, &length), "OSSL_ENCODER_to_data")
        defer { cloister_OPENSSL_free(data) }
        return Array(UnsafeBufferPointer(start: data, count: length))
    }

    /// The public key's DER `SubjectPublicKeyInfo` (EC and RSA keys alike).
    var subjectPublicKeyInfoDER: [UInt8] {
        // Encoding a key OpenSSL already holds fails only on allocation failure.
        try! encode(
            outputType: OpenSSLName.der, structure: OpenSSLName.subjectPublicKeyInfo, selection: KeySelection.publicKey)
    }

    /// The public key's PEM `PUBLIC KEY` block.
    var subjectPublicKeyInfoPEM: String {
        String(
            decoding: try! encode(
                outputType: OpenSSLName.pem, structure: OpenSSLName.subjectPublicKeyInfo,
                selection: KeySelection.publicKey), as: UTF8.self)
    }
}

/// Selections for `OSSL_ENCODER` / `OSSL_DECODER` (macros in OpenSSL's headers).
enum KeySelection {
    static let publicKey: Int32 = 0x02 | 0x04 | 0x80  // EVP_PKEY_PUBLIC_KEY
    static let keyPair: Int32 = 0x01 | publicKey  // EVP_PKEY_KEYPAIR
}
