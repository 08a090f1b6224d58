internal import COpenSSL
public import FoundationEssentials

/// The key a certificate authority signs with, and how: ECDSA (SHA-256 for a P-256 key, SHA-384 for a P-384 key) or
/// RSASSA-PSS with AMD's parameters (SHA-384, MGF1 with SHA-384, a 48-byte salt), as AMD's ARK, ASK and ASVK sign.
public enum CertificateSigningKey: Sendable {
    case ecdsa(ECPrivateKey)
    /// RSASSA-PSS: SHA-384, MGF1-SHA-384, salt length 48 (RFC 4055 parameters in the signature algorithm).
    case rsaPSS(RSAPrivateKey)

    /// The salt length of RSA-PSS signatures, SHA-384's output length (as AMD's certificates state).
    public static let pssSaltLength = 48

    var evpKey: EVPKey {
        switch self {
        case .ecdsa(let key): key.key
        case .rsaPSS(let key): key.key
        }
    }

    /// Runs `body` with a digest-signing context set up for this key (`X509_sign_ctx`, `X509_CRL_sign_ctx`).
    func withSigningContext(_ body: (OpaquePointer) throws -> Void) throws {
        guard let context = EVP_MD_CTX_new() else { throw CryptoError.openSSL("EVP_MD_CTX_new") }
        defer { EVP_MD_CTX_free(context) }
        var keyContext: OpaquePointer?
        switch self {
        case .ecdsa(let key):
            try requireOne(
                EVP_DigestSignInit(context, &keyContext, key.curve.defaultDigest.method, nil, key.key.pointer),
                "EVP_DigestSignInit(ECDSA)")
        case .rsaPSS(let key):
            let digest = DigestAlgorithm.sha384.method
            try requireOne(
                EVP_DigestSignInit(context, &keyContext, digest, nil, key.key.pointer), "EVP_DigestSignInit(RSA-PSS)")
            guard EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PSS_PADDING) > 0 else {
                throw CryptoError.openSSL("EVP_PKEY_CTX_set_rsa_padding(PSS)")
            }
            guard EVP_PKEY_CTX_set_rsa_pss_saltlen(keyContext, Int32(Self.pssSaltLength)) > 0 else {
                throw CryptoError.openSSL("EVP_PKEY_CTX_set_rsa_pss_saltlen")
            }
            guard EVP_PKEY_CTX_set_rsa_mgf1_md(keyContext, digest) > 0 else {
                throw CryptoError.openSSL("EVP_PKEY_CTX_set_rsa_mgf1_md(SHA-384)")
            }
        }
        try body(context)
    }
}

/// A certificate authority: a signing key and its certificate, issuing X.509 v3 certificates and v2 CRLs.
///
/// Signatures are ECDSA with SHA-256 for a P-256 key and SHA-384 for a P-384 key, or RSASSA-PSS (SHA-384, MGF1-SHA-384,
/// salt 48) for an RSA key. The authority signs whatever profile it is given (the simulator also needs to make
/// deliberately bad chains); verifiers judge the result.
public struct CertificateAuthority: Sendable {
    public let certificate: X509Certificate
    /// The key the authority signs with.
    public let signingKey: CertificateSigningKey

    /// An ECDSA authority from its certificate and the matching private key.
    public init(certificate: X509Certificate, privateKey: ECPrivateKey) throws {
        try self.init(certificate: certificate, signingKey: .ecdsa(privateKey))
    }

    /// An RSA-PSS authority from its certificate and the matching private key.
    public init(certificate: X509Certificate, privateKey: RSAPrivateKey) throws {
        try self.init(certificate: certificate, signingKey: .rsaPSS(privateKey))
    }

    /// An authority from its certificate and the matching signing key.
    public init(certificate: X509Certificate, signingKey: CertificateSigningKey) throws {
        guard let certified = X509_get0_pubkey(certificate.pointer),
            EVP_PKEY_eq(certified, signingKey.evpKey.pointer) == 1
        else {
            ERR_clear_error()
            throw CryptoError(.invalidKey, "private key does not match the certificate of \(certificate.subject)")
        }
        self.certificate = certificate
        self.signingKey = signingKey
    }

    /// The EC private key of an ECDSA authority. An RSA-PSS authority has none: asking for it is a programming
    /// error (read `signingKey`).
    public var privateKey: ECPrivateKey {
        guard case .ecdsa(let key) = signingKey else {
            preconditionFailure("the authority \(certificate.subject) signs with RSA-PSS; it has no EC private key")
        }
        return key
    }

    /// A self-signed root CA for `profile` (which must be a CA profile), signed by `privateKey`.
    public static func selfSigned(_ profile: CertificateProfile, privateKey: ECPrivateKey) throws
        -> CertificateAuthority
    {
        try selfSigned(profile, signingKey: .ecdsa(privateKey))
    }

    /// A self-signed root CA for `profile` (which must be a CA profile), signed RSA-PSS by `privateKey`.
    public static func selfSigned(_ profile: CertificateProfile, privateKey: RSAPrivateKey) throws
        -> CertificateAuthority
    {
        try selfSigned(profile, signingKey: .rsaPSS(privateKey))
    }

    /// A self-signed root CA for `profile` (which must be a CA profile), signed by `signingKey`.
    public static func selfSigned(_ profile: CertificateProfile, signingKey: CertificateSigningKey) throws
        -> CertificateAuthority
    {
        guard profile.isCertificateAuthority else {
            throw CryptoError(.invalidParameter, "a self-signed root must be a CA (isCertificateAuthority)")
        }
        let certificate = try CertificateWriter.write(
            profile, subjectKey: signingKey.evpKey, issuer: nil, signingKey: signingKey)
        return try CertificateAuthority(certificate: certificate, signingKey: signingKey)
    }

    /// Issues a certificate for `subjectKey` described by `profile`, signed by this authority.
    public func issue(_ profile: CertificateProfile, for subjectKey: ECPublicKey) throws -> X509Certificate {
        try CertificateWriter.write(profile, subjectKey: subjectKey.key, issuer: certificate, signingKey: signingKey)
    }

    /// Issues a certificate for the RSA key `subjectKey` described by `profile`, signed by this authority.
    public func issue(_ profile: CertificateProfile, for subjectKey: RSAPublicKey) throws -> X509Certificate {
        try CertificateWriter.write(profile, subjectKey: subjectKey.key, issuer: certificate, signingKey: signingKey)
    }

    /// Issues a CRL numbered `number`, valid from `thisUpdate` until `nextUpdate`, listing `revoked`.
    public func issueCRL(
        number: UInt64,
        thisUpdate: Date,
        nextUpdate: Date,
        revoked: [RevokedCertificate]
    ) throws -> CertificateRevocationList {
        try CRLWriter.write(
            issuer: certificate, signingKey: signingKey, number: number, thisUpdate: thisUpdate,
            nextUpdate: nextUpdate, revoked: revoked)
    }
}

/// Builds and signs X.509 v3 certificates.
private enum CertificateWriter {
    static func write(
        _ profile: CertificateProfile,
        subjectKey: EVPKey,
        issuer: X509Certificate?,
        signingKey: CertificateSigningKey
    ) throws -> X509Certificate {
        try profile.validate()
        guard let certificate = X509_new() else { throw CryptoError.openSSL("X509_new") }
        var owned = true
        defer { if owned { X509_free(certificate) } }
        try requireOne(X509_set_version(certificate, 2), "X509_set_version")
        let serial = try ASN1Conversions.makeInteger(profile.serialNumber ?? randomSerial())
        defer { ASN1_INTEGER_free(serial) }
        try requireOne(X509_set_serialNumber(certificate, serial), "X509_set_serialNumber")
        let subjectName = try profile.subject.makeOpenSSLName()
        defer { X509_NAME_free(subjectName) }
        try requireOne(X509_set_subject_name(certificate, subjectName), "X509_set_subject_name")
        try requireOne(
            X509_set_issuer_name(certificate, issuer.map { X509_get_subject_name($0.pointer) } ?? subjectName),
            "X509_set_issuer_name")
        try ASN1Conversions.setTime(X509_getm_notBefore(certificate), to: profile.notValidBefore)
        try ASN1Conversions.setTime(X509_getm_notAfter(certificate), to: profile.notValidAfter)
        try requireOne(X509_set_pubkey(certificate, subjectKey.pointer), "X509_set_pubkey")

        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer?.pointer ?? certificate, certificate, nil, nil, 0)
        var basicConstraints = profile.isCertificateAuthority ? "critical,CA:TRUE" : "critical,CA:FALSE"
        if let pathLength = profile.pathLengthConstraint {
            basicConstraints += ",pathlen:\(pathLength)"
        }
        try addStandardExtension(certificate, &context, NID_basic_constraints, basicConstraints)
        try addStandardExtension(certificate, &context, NID_key_usage, "critical,\(profile.keyUsage)")
        if !profile.extendedKeyUsage.isEmpty {
            try addStandardExtension(
                certificate, &context, NID_ext_key_usage, profile.extendedKeyUsage.joined(separator: ","))
        }
        try addStandardExtension(certificate, &context, NID_subject_key_identifier, "hash")
        try addStandardExtension(certificate, &context, NID_authority_key_identifier, "keyid:always")
        if !profile.crlDistributionPoints.isEmpty {
            try addStandardExtension(
                certificate, &context, NID_crl_distribution_points,
                profile.crlDistributionPoints.map { "URI:\($0)" }.joined(separator: ","))
        }
        for custom in profile.customExtensions {
            try addCustomExtension(certificate, custom)
        }
        try signingKey.withSigningContext { context in
            guard X509_sign_ctx(certificate, context) > 0 else { throw CryptoError.openSSL("X509_sign_ctx") }
        }
        owned = false
        return try X509Certificate(adopting: certificate)
    }

    private static func addStandardExtension(
        _ certificate: OpaquePointer,
        _ context: inout X509V3_CTX,
        _ nid: Int32,
        _ value: String
    ) throws {
        guard let item = X509V3_EXT_nconf_nid(nil, &context, nid, value) else {
            throw CryptoError(
                .invalidParameter,
                "extension \(ASN1Conversions.longName(nid)) = \(value) is refused: \(drainOpenSSLErrors())")
        }
        defer { X509_EXTENSION_free(item) }
        try requireOne(X509_add_ext(certificate, item, -1), "X509_add_ext")
    }

    private static func addCustomExtension(_ certificate: OpaquePointer, _ custom: CertificateExtension) throws {
        let object = try ASN1Conversions.object(oid: custom.oid)
        defer { ASN1_OBJECT_free(object) }
        guard let octets = ASN1_OCTET_STRING_new() else { throw CryptoError.openSSL("ASN1_OCTET_STRING_new") }
        defer { ASN1_OCTET_STRING_free(octets) }
        try requireOne(ASN1_OCTET_STRING_set(octets, custom.value, Int32(custom.value.count)), "ASN1_OCTET_STRING_set")
        let item = try requireNonNull(
            X509_EXTENSION_create_by_OBJ(nil, object, custom.isCritical ? 1 : 0, octets),
            "X509_EXTENSION_create_by_OBJ")
        defer { X509_EXTENSION_free(item) }
        try requireOne(X509_add_ext(certificate, item, -1), "X509_add_ext(\(custom.oid))")
    }

    /// 16 random bytes with the top bit clear and the first byte non-zero: a positive 128-bit INTEGER.
    private static func randomSerial() throws -> [UInt8] {
        var serial = try SecureRandom.bytes(count: 16)
        serial[0] = (serial[0] & 0x7f) | 0x01
        return serial
    }
}

/// Builds and signs X.509 v2 CRLs with the CRL number and authority key identifier extensions.
private enum CRLWriter {
    static func write(
        issuer: X509Certificate,
        signingKey: CertificateSigningKey,
        number: UInt64,
        thisUpdate: Date,
        nextUpdate: Date,
        revoked: [RevokedCertificate]
    ) throws -> CertificateRevocationList {
        guard thisUpdate < nextUpdate else {
            throw CryptoError(
                .invalidParameter,
                "CRL nextUpdate (\(nextUpdate.rfc3339)) is not after thisUpdate (\(thisUpdate.rfc3339))")
        }
        guard let crl = X509_CRL_new() else { throw CryptoError.openSSL("X509_CRL_new") }
        var owned = true
        defer { if owned { X509_CRL_free(crl) } }
        try requireOne(X509_CRL_set_version(crl, 1), "X509_CRL_set_version")
        try requireOne(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer.pointer)), "X509_CRL_set_issuer_name")
        try withTime(thisUpdate) { try requireOne(X509_CRL_set1_lastUpdate(crl, $0), "X509_CRL_set1_lastUpdate") }
        try withTime(nextUpdate) { try requireOne(X509_CRL_set1_nextUpdate(crl, $0), "X509_CRL_set1_nextUpdate") }
        for entry in revoked {
            try addEntry(entry, to: crl)
        }
        try requireOne(X509_CRL_sort(crl), "X509_CRL_sort")
        let crlNumber = try ASN1Conversions.makeInteger(bigEndianBytes(number))
        defer { ASN1_INTEGER_free(crlNumber) }
        try requireOne(X509_CRL_add1_ext_i2d(crl, NID_crl_number, crlNumber, 0, 0), "X509_CRL_add1_ext_i2d(crlNumber)")
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer.pointer, nil, nil, crl, 0)
        let authorityKeyID = try requireNonNull(
            X509V3_EXT_nconf_nid(nil, &context, NID_authority_key_identifier, "keyid:always"),
            "X509V3_EXT_nconf_nid(authorityKeyIdentifier)")
        defer { X509_EXTENSION_free(authorityKeyID) }
        try requireOne(X509_CRL_add_ext(crl, authorityKeyID, -1), "X509_CRL_add_ext")
        try signingKey.withSigningContext { context in
            guard X509_CRL_sign_ctx(crl, context) > 0 else { throw CryptoError.openSSL("X509_CRL_sign_ctx") }
        }
        owned = false
        return try CertificateRevocationList(adopting: crl)
    }

    private static func addEntry(_ entry: RevokedCertificate, to crl: OpaquePointer) throws {
        guard (1...20).contains(entry.serialNumber.count) else {
            throw CryptoError(.invalidParameter, "revoked serial number must be 1 to 20 bytes")
        }
        guard let item = X509_REVOKED_new() else { throw CryptoError.openSSL("X509_REVOKED_new") }
        var owned = true
        defer { if owned { X509_REVOKED_free(item) } }
        let serial = try ASN1Conversions.makeInteger(entry.serialNumber)
        defer { ASN1_INTEGER_free(serial) }
        try requireOne(X509_REVOKED_set_serialNumber(item, serial), "X509_REVOKED_set_serialNumber")
        try withTime(entry.revocationDate) {
            try requireOne(X509_REVOKED_set_revocationDate(item, $0), "X509_REVOKED_set_revocationDate")
        }
        try requireOne(X509_CRL_add0_revoked(crl, item), "X509_CRL_add0_revoked")
        owned = false
    }

    /// Runs `body` with a temporary ASN.1 time set to `date` (the setters copy it).
    private static func withTime(_ date: Date, _ body: (UnsafeMutablePointer<ASN1_TIME>) throws -> Void) throws {
        guard let time = ASN1_TIME_new() else { throw CryptoError.openSSL("ASN1_TIME_new") }
        defer { ASN1_TIME_free(time) }
        try ASN1Conversions.setTime(time, to: date)
        try body(time)
    }

    private static func bigEndianBytes(_ value: UInt64) -> [UInt8] {
        let bytes = (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        let significant = Array(bytes.drop { $0 == 0 })
        return significant.isEmpty ? [0] : significant
    }
}
