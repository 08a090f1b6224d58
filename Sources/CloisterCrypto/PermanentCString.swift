/// A NUL-terminated C string that lives for the whole process.
///
/// OpenSSL keeps some of the string pointers it is given instead of copying them (`OSSL_PARAM` keys and values,
/// `OSSL_PARAM_BLD` pushes, encoder and decoder types), so those strings must never be Swift temporaries.
final class PermanentCString: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<CChar>

    init(_ text: String) {
        let utf8 = Array(text.utf8CString)
        pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
        pointer.initialize(from: utf8, count: utf8.count)
    }
}

/// The names Cloister hands to OpenSSL's parameter, encoder and decoder APIs.
enum OpenSSLName {
    static let groupName = PermanentCString("group")  // OSSL_PKEY_PARAM_GROUP_NAME
    static let publicKey = PermanentCString("pub")  // OSSL_PKEY_PARAM_PUB_KEY
    static let privateKey = PermanentCString("priv")  // OSSL_PKEY_PARAM_PRIV_KEY
    static let ecKeyType = PermanentCString("EC")
    static let rsaKeyType = PermanentCString("RSA")
    static let der = PermanentCString("DER")
    static let pem = PermanentCString("PEM")
    static let privateKeyInfo = PermanentCString("PrivateKeyInfo")
    static let subjectPublicKeyInfo = PermanentCString("SubjectPublicKeyInfo")
    static let typeSpecific = PermanentCString("type-specific")
    static let prime256v1 = PermanentCString("prime256v1")
    static let secp384r1 = PermanentCString("secp384r1")
    static let digest = PermanentCString("digest")  // OSSL_MAC_PARAM_DIGEST, OSSL_KDF_PARAM_DIGEST
    static let mode = PermanentCString("mode")  // OSSL_KDF_PARAM_MODE
    static let key = PermanentCString("key")  // OSSL_KDF_PARAM_KEY
    static let salt = PermanentCString("salt")  // OSSL_KDF_PARAM_SALT
    static let info = PermanentCString("info")  // OSSL_KDF_PARAM_INFO
    static let hmac = PermanentCString("HMAC")
    static let hkdf = PermanentCString("HKDF")
    static let aes128GCM = PermanentCString("AES-128-GCM")
    static let aes256GCM = PermanentCString("AES-256-GCM")
    static let aes256CTR = PermanentCString("AES-256-CTR")
}
