internal import COpenSSL
public import FoundationEssentials

/// What a new certificate says about its subject.
public struct CertificateProfile: Sendable {
    public var subject: DistinguishedName
    public var notValidBefore: Date
    public var notValidAfter: Date
    /// Random positive 16 bytes unless set.
    public var serialNumber: [UInt8]?
    /// CA:TRUE (with an optional path length) or an end-entity certificate.
    public var isCertificateAuthority: Bool
    public var pathLengthConstraint: Int?
    public var keyUsage: KeyUsage
    /// Extra extensions by OID with raw DER values (platform id, TCB level, …).
    public var customExtensions: [CertificateExtension]

    public init(
        subject: DistinguishedName,
        notValidBefore: Date,
        notValidAfter: Date,
        serialNumber: [UInt8]? = nil,
        isCertificateAuthority: Bool,
        pathLengthConstraint: Int? = nil,
        keyUsage: KeyUsage,
        customExtensions: [CertificateExtension] = []
    ) {
        self.subject = subject
        self.notValidBefore = notValidBefore
        self.notValidAfter = notValidAfter
        self.serialNumber = serialNumber
        self.isCertificateAuthority = isCertificateAuthority
        self.pathLengthConstraint = pathLengthConstraint
        self.keyUsage = keyUsage
        self.customExtensions = customExtensions
    }
}

/// A certificate authority: a signing key and its certificate, issuing certificates and CRLs.
public struct CertificateAuthority: Sendable {
    public let certificate: X509Certificate
    public let privateKey: ECPrivateKey

    public init(certificate: X509Certificate, privateKey: ECPrivateKey) throws {
        guard try certificate.publicKey() == privateKey.publicKey else {
            throw CryptoError(.invalidKey, "private key does not match the certificate of \(certificate.subject)")
        }
        self.certificate = certificate
        self.privateKey = privateKey
    }

    /// A self-signed root CA for `profile` (which must be a CA profile), signed by `privateKey`.
    public static func selfSigned(_ profile: CertificateProfile, privateKey: ECPrivateKey) throws
        -> CertificateAuthority
    {
        guard profile.isCertificateAuthority else {
            throw CryptoError(.invalidParameter, "a self-signed root must be a CA (isCertificateAuthority)")
        }
        let certificate = try CertificateWriter.write(
            profile, subjectKey: privateKey.publicKey, issuer: nil, signingKey: privateKey)
        return try CertificateAuthority(certificate: certificate, privateKey: privateKey)
    }

    /// Issues a certificate for `subjectKey`, signed by this authority.
    public func issue(_ profile: CertificateProfile, for subjectKey: ECPublicKey) throws -> X509Certificate {
        try CertificateWriter.write(profile, subjectKey: subjectKey, issuer: certificate, signingKey: privateKey)
    }

    /// Issues a CRL listing `revoked` serial numbers (with their revocation dates), valid from `thisUpdate`.
    public func issueCRL(
        number: UInt64,
        thisUpdate: Date,
        nextUpdate: Date,
        revoked: [RevokedCertificate]
    ) throws -> CertificateRevocationList {
        try CertificateRevocationList.write(
            issuer: certificate, signingKey: privateKey, number: number, thisUpdate: thisUpdate,
            nextUpdate: nextUpdate, revoked: revoked)
    }
}

/// Builds and signs X.509 v3 certificates.
enum CertificateWriter {
    static func write(
        _ profile: CertificateProfile,
        subjectKey: ECPublicKey,
        issuer: X509Certificate?,
        signingKey: ECPrivateKey
    ) throws -> X509Certificate {
        guard profile.notValidBefore <= profile.notValidAfter else {
            throw CryptoError(.invalidParameter, "certificate validity ends before it starts")
        }
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
        try requireOne(X509_set_pubkey(certificate, subjectKey.key.pointer), "X509_set_pubkey")

        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer?.pointer ?? certificate, certificate, nil, nil, 0)
        var basicConstraints = profile.isCertificateAuthority ? "critical,CA:TRUE" : "critical,CA:FALSE"
        if profile.isCertificateAuthority, let pathLength = profile.pathLengthConstraint {
            basicConstraints += ",pathlen:\(pathLength)"
        }
        try addStandardExtension(certificate, &context, NID_basic_constraints, basicConstraints)
        try addStandardExtension(
            certificate, &context, NID_key_usage, "critical," + profile.keyUsage.configurationValue)
        try addStandardExtension(certificate, &context, NID_subject_key_identifier, "hash")
        try addStandardExtension(certificate, &context, NID_authority_key_identifier, "keyid:always")
        for custom in profile.customExtensions {
            try addCustomExtension(certificate, custom)
        }
        let digest = signingKey.curve.defaultDigest
        guard X509_sign(certificate, signingKey.key.pointer, digest.method) > 0 else {
            throw CryptoError.openSSL("X509_sign")
        }
        owned = false
        return try X509Certificate(adopting: certificate)
    }

    static func addStandardExtension(
        _ certificate: OpaquePointer,
        _ context: inout X509V3_CTX,
        _ nid: Int32,
        _ value: String
    ) throws {
        guard let item = X509V3_EXT_nconf_nid(nil, &context, nid, value) else {
            throw CryptoError.openSSL("X509V3_EXT_nconf_nid(\(String(cString: OBJ_nid2sn(nid))), \(value))")
        }
        defer { X509_EXTENSION_free(item) }
        try requireOne(X509_add_ext(certificate, item, -1), "X509_add_ext")
    }

    static func makeCustomExtension(_ custom: CertificateExtension) throws -> OpaquePointer {
        let object = try ASN1Conversions.object(oid: custom.oid)
        defer { ASN1_OBJECT_free(object) }
        guard let octets = ASN1_OCTET_STRING_new() else { throw CryptoError.openSSL("ASN1_OCTET_STRING_new") }
        defer { ASN1_OCTET_STRING_free(octets) }
        try requireOne(ASN1_OCTET_STRING_set(octets, custom.value, Int32(custom.value.count)), "ASN1_OCTET_STRING_set")
        return try requireNonNull(
            X509_EXTENSION_create_by_OBJ(nil, object, custom.isCritical ? 1 : 0, octets), "X509_EXTENSION_create_by_OBJ"
        )
    }

    private static func addCustomExtension(_ certificate: OpaquePointer, _ custom: CertificateExtension) throws {
        let item = try makeCustomExtension(custom)
        defer { X509_EXTENSION_free(item) }
        try requireOne(X509_add_ext(certificate, item, -1), "X509_add_ext(\(custom.oid))")
    }

    /// 16 random bytes with the top bit clear, so the INTEGER is positive and has no padding byte.
    private static func randomSerial() throws -> [UInt8] {
        var serial = try SecureRandom.bytes(count: 16)
        serial[0] = (serial[0] & 0x7f) | 0x01
        return serial
    }
}
