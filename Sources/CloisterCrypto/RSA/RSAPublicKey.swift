internal import COpenSSL

/// An RSA public key.
public struct RSAPublicKey: Sendable, Equatable {
    let key: EVPKey
    /// The modulus size in bits.
    public let bitCount: Int

    init(sharing keyPair: EVPKey, bitCount: Int) {
        self.key = keyPair
        self.bitCount = bitCount
    }

    /// Imports a DER `SubjectPublicKeyInfo`.
    public init(derRepresentation der: some ContiguousBytesView) throws {
        let key = try EVPKey.decode(
            der, inputType: OpenSSLName.der, selection: KeySelection.publicKey, what: "public key DER",
            keyType: OpenSSLName.rsaKeyType, keyName: "RSA")
        self.init(sharing: key, bitCount: Int(EVP_PKEY_get_bits(key.pointer)))
    }

    /// The DER `SubjectPublicKeyInfo`.
    public var derRepresentation: [UInt8] { key.subjectPublicKeyInfoDER }

    /// The PEM `PUBLIC KEY` block.
    public var pemRepresentation: String { key.subjectPublicKeyInfoPEM }

    public static func == (lhs: RSAPublicKey, rhs: RSAPublicKey) -> Bool {
        EVP_PKEY_eq(lhs.key.pointer, rhs.key.pointer) == 1
    }
}
