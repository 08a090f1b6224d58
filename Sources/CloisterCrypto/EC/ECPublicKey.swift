internal import COpenSSL

/// An elliptic-curve public key on P-256 or P-384.
public struct ECPublicKey: Sendable, Equatable {
    let key: EVPKey
    public let curve: ECCurve

    init(key: EVPKey) throws {
        self.key = key
        self.curve = try key.ecCurve()
    }

    /// The public view of a key pair (OpenSSL uses only the public parts for verification and export).
    init(sharing keyPair: EVPKey, curve: ECCurve) {
        self.key = keyPair
        self.curve = curve
    }

    /// Imports an uncompressed point `0x04 || X || Y` (SEC 1 §2.3.3), checking that it lies on the curve.
    public init(x963Representation point: some ContiguousBytesView, curve: ECCurve) throws {
        let expected = 1 + 2 * curve.coordinateByteCount
        let bytes = point.withBytes { Array($0) }
        guard bytes.count == expected, bytes.first == 0x04 else {
            throw CryptoError(
                .malformedInput,
                "\(curve.rawValue) public key must be an uncompressed point of \(expected) bytes starting 0x04, got \(bytes.count) bytes"
            )
        }
        let key = try ECKeyBuilder(curve: curve).build(publicPoint: bytes, privateScalar: nil)
        try ECKeyBuilder.checkPublicKey(key)
        self.key = key
        self.curve = curve
    }

    /// Imports a DER `SubjectPublicKeyInfo`.
    public init(derRepresentation der: some ContiguousBytesView) throws {
        try self.init(
            key: EVPKey.decode(
                der, inputType: OpenSSLName.der, selection: KeySelection.publicKey, what: "public key DER"))
        try ECKeyBuilder.checkPublicKey(key)
    }

    /// Imports a PEM `PUBLIC KEY` block.
    public init(pemRepresentation pem: String) throws {
        try self.init(
            key: EVPKey.decode(
                pem, inputType: OpenSSLName.pem, selection: KeySelection.publicKey, what: "public key PEM"))
        try ECKeyBuilder.checkPublicKey(key)
    }

    /// The uncompressed point `0x04 || X || Y`.
    public var x963Representation: [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 1 + 2 * curve.coordinateByteCount)
        var length = 0
        let status = EVP_PKEY_get_octet_string_param(
            key.pointer, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, &buffer, buffer.count, &length)
        precondition(status == 1 && length == buffer.count, "EC public key export failed: \(drainOpenSSLErrors())")
        return buffer
    }

    /// The DER `SubjectPublicKeyInfo`.
    public var derRepresentation: [UInt8] { key.subjectPublicKeyInfoDER }

    /// The PEM `PUBLIC KEY` block.
    public var pemRepresentation: String { key.subjectPublicKeyInfoPEM }

    public static func == (lhs: ECPublicKey, rhs: ECPublicKey) -> Bool {
        lhs.curve == rhs.curve && lhs.x963Representation == rhs.x963Representation
    }
}
