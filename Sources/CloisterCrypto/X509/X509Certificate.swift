internal import COpenSSL
public import FoundationEssentials

/// An immutable parsed X.509 certificate. Equal when their DER encodings are equal.
public final class X509Certificate: @unchecked Sendable, Hashable, CustomStringConvertible {
    let pointer: OpaquePointer
    /// The certificate exactly as encoded (DER).
    public let derRepresentation: [UInt8]
    public let subject: DistinguishedName
    public let issuer: DistinguishedName
    /// Serial number, big-endian magnitude.
    public let serialNumber: [UInt8]
    public let notValidBefore: Date
    /// The last second of the validity window: the certificate is still valid throughout this second (RFC 5280
    /// §4.1.2.5: the validity period is inclusive), and expired from the next.
    public let notValidAfter: Date
    /// SHA-256 of the DER encoding (the usual certificate fingerprint).
    public let sha256Fingerprint: [UInt8]
    /// Every extension, in encoding order.
    public let extensions: [CertificateExtension]
    /// The subject, as text.
    public let description: String
    /// The subject public key as an EC key, or why it is not one: built once, so the key's OpenSSL operation
    /// contexts are reused by every verification with this certificate.
    private let ecPublicKey: Result<ECPublicKey, CryptoError>

    /// Parses a DER certificate; throws for anything that is not exactly one well-formed certificate.
    public convenience init(derRepresentation der: some ContiguousBytesView) throws {
        let bytes = der.withBytes { Array($0) }
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            guard let certificate = d2i_X509(nil, &cursor, buffer.count) else { return nil }
            guard cursor == buffer.baseAddress.map({ $0 + buffer.count }) else {
                X509_free(certificate)
                return nil
            }
            return certificate
        }
        guard let parsed else {
            let detail = drainOpenSSLErrors()
            throw CryptoError(
                .malformedInput, "\(bytes.count) bytes are not exactly one DER X.509 certificate: \(detail)")
        }
        try self.init(taking: parsed, der: bytes)
    }

    /// Parses a PEM text holding exactly one `CERTIFICATE` block.
    public convenience init(pemRepresentation pem: String) throws {
        let certificates = try Self.certificates(fromPEM: pem)
        guard certificates.count == 1 else {
            throw CryptoError(
                .malformedInput, "expected one PEM CERTIFICATE block, found \(certificates.count)")
        }
        try self.init(derRepresentation: certificates[0].derRepresentation)
    }

    /// Every `CERTIFICATE` block of a PEM bundle, in order (other blocks and text between them are skipped).
    public static func certificates(fromPEM pem: String) throws -> [X509Certificate] {
        try ASN1Conversions.withReadBIO(Array(pem.utf8)) { bio in
            var certificates: [X509Certificate] = []
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                certificates.append(try X509Certificate(adopting: certificate))
            }
            // Reading ends with "no start line" once no block is left; any other error is a malformed block.
            let error = ERR_peek_last_error()
            guard error == 0 || ERR_GET_REASON(error) == PEM_R_NO_START_LINE else {
                throw CryptoError(
                    .malformedInput,
                    "PEM CERTIFICATE block \(certificates.count + 1) is malformed: \(drainOpenSSLErrors())")
            }
            ERR_clear_error()
            return certificates
        }
    }

    /// Takes ownership of `pointer` (freed on failure too) and records its DER encoding.
    convenience init(adopting pointer: OpaquePointer) throws {
        try self.init(
            taking: pointer, der: ASN1Conversions.der(pointer, "i2d_X509", free: { X509_free($0) }) { i2d_X509($0, $1) }
        )
    }

    /// Takes ownership of `pointer`, which every failure frees here: the initializer throws before every stored
    /// property is set, so deinit never runs for a refused certificate (a leak a fuzzer found, kept in
    /// `Fuzz/Regressions/dcap-quote`).
    private init(taking pointer: OpaquePointer, der: [UInt8]) throws {
        self.pointer = pointer
        self.derRepresentation = der
        do {
            subject = try DistinguishedName(reading: X509_get_subject_name(pointer))
            issuer = try DistinguishedName(reading: X509_get_issuer_name(pointer))
            serialNumber = try ASN1Conversions.integerBytes(X509_get0_serialNumber(pointer))
            notValidBefore = try ASN1Conversions.date(X509_get0_notBefore(pointer))
            notValidAfter = try ASN1Conversions.date(X509_get0_notAfter(pointer))
        } catch {
            X509_free(pointer)
            throw error
        }
        // Decodes and caches the standard extensions; any that does not decode marks the certificate invalid.
        guard X509_get_extension_flags(pointer) & UInt32(EXFLAG_INVALID) == 0 else {
            X509_free(pointer)
            throw CryptoError(
                .malformedInput, "certificate \(subject) has malformed or duplicate extensions: \(drainOpenSSLErrors())"
            )
        }
        sha256Fingerprint = DigestAlgorithm.sha256.hash(der)
        extensions = (0..<X509_get_ext_count(pointer)).map { index in
            let item = X509_get_ext(pointer, index)
            return CertificateExtension(
                oid: ASN1Conversions.dottedText(X509_EXTENSION_get_object(item)),
                isCritical: X509_EXTENSION_get_critical(item) == 1,
                value: ASN1Conversions.bytes(X509_EXTENSION_get_data(item)))
        }
        description = subject.description
        ecPublicKey = Self.ecPublicKey(pointer, subject)
        ERR_clear_error()
    }

    private static func ecPublicKey(_ pointer: OpaquePointer, _ subject: DistinguishedName) -> Result<
        ECPublicKey, CryptoError
    > {
        guard let key = X509_get0_pubkey(pointer) else {
            return .failure(
                CryptoError(
                    .invalidKey, "certificate \(subject) has an unreadable public key: \(drainOpenSSLErrors())"))
        }
        guard EVP_PKEY_is_a(key, "EC") == 1 else {
            return .failure(
                CryptoError(
                    .invalidKey,
                    "certificate \(subject) holds a \(publicKeyAlgorithm(pointer)) key, not an elliptic-curve key"))
        }
        guard EVP_PKEY_up_ref(key) == 1 else { return .failure(CryptoError.openSSL("EVP_PKEY_up_ref")) }
        do {
            return .success(try ECPublicKey(key: EVPKey(taking: key)))
        } catch let error as CryptoError {
            return .failure(error)
        } catch {
            return .failure(CryptoError(.invalidKey, "certificate \(subject): \(error)"))
        }
    }

    deinit { X509_free(pointer) }

    /// The PEM `CERTIFICATE` block.
    public var pemRepresentation: String {
        guard let bio = BIO_new(BIO_s_mem()) else { fatalError("BIO_new failed: \(drainOpenSSLErrors())") }
        defer { BIO_free(bio) }
        // Writing a parsed certificate to memory fails only when memory runs out.
        precondition(PEM_write_bio_X509(bio, pointer) == 1, "PEM_write_bio_X509 failed: \(drainOpenSSLErrors())")
        return String(decoding: ASN1Conversions.drain(bio), as: UTF8.self)
    }

    /// Serial number as lower-case hex.
    public var serialNumberHex: String { hexEncoded(serialNumber) }

    /// The signature algorithm's name, e.g. "ecdsa-with-SHA384" or "rsassaPss".
    public var signatureAlgorithm: String {
        ASN1Conversions.longName(X509_get_signature_nid(pointer))
    }

    /// The subject public key's algorithm, e.g. "id-ecPublicKey", "rsaEncryption" or "rsassaPss".
    public var publicKeyAlgorithm: String { Self.publicKeyAlgorithm(pointer) }

    private static func publicKeyAlgorithm(_ pointer: OpaquePointer) -> String {
        var algorithm: OpaquePointer?
        guard X509_PUBKEY_get0_param(&algorithm, nil, nil, nil, X509_get_X509_PUBKEY(pointer)) == 1 else {
            ERR_clear_error()
            return "unknown"
        }
        return ASN1Conversions.longName(OBJ_obj2nid(algorithm))
    }

    /// The subject public key; throws unless it is an EC key on P-256 or P-384.
    public func publicKey() throws -> ECPublicKey {
        try ecPublicKey.get()
    }

    /// Whether basic constraints mark this certificate as a CA (cA TRUE).
    public var isCertificateAuthority: Bool {
        X509_get_extension_flags(pointer) & UInt32(EXFLAG_CA) != 0
    }

    /// The basic-constraints path length: how many CA certificates may follow this one, if limited.
    public var pathLengthConstraint: Int? {
        let length = X509_get_pathlen(pointer)
        return length >= 0 ? Int(length) : nil
    }

    /// The key usages, or nil when the certificate has no key-usage extension (RFC 5280: then any usage).
    public var keyUsage: KeyUsage? {
        guard X509_get_extension_flags(pointer) & UInt32(EXFLAG_KUSAGE) != 0 else { return nil }
        return KeyUsage(rawValue: X509_get_key_usage(pointer))
    }

    /// The extended key usages as dotted OIDs (e.g. "1.3.6.1.5.5.7.3.1"), or nil without that extension.
    public var extendedKeyUsage: [String]? {
        guard let decoded = X509_get_ext_d2i(pointer, NID_ext_key_usage, nil, nil) else { return nil }
        let usages = OpaquePointer(decoded)
        defer { EXTENDED_KEY_USAGE_free(usages) }
        return (0..<OPENSSL_sk_num(usages)).map { index in
            ASN1Conversions.dottedText(OpaquePointer(OPENSSL_sk_value(usages, index)))
        }
    }

    /// The URIs of the CRL distribution points' full names (RFC 5280 §4.2.1.13), in encoding order; empty without
    /// that extension. Where the issuer publishes the CRL that covers this certificate.
    public var crlDistributionPoints: [String] {
        guard let decoded = X509_get_ext_d2i(pointer, NID_crl_distribution_points, nil, nil) else {
            ERR_clear_error()
            return []
        }
        let points = OpaquePointer(decoded)
        defer { CRL_DIST_POINTS_free(points) }
        var uris: [String] = []
        for index in 0..<OPENSSL_sk_num(points) {
            let point = OPENSSL_sk_value(points, index).assumingMemoryBound(to: DIST_POINT.self).pointee
            guard let name = point.distpoint?.pointee, name.type == 0, let fullName = name.name.fullname else {
                continue
            }
            for nameIndex in 0..<OPENSSL_sk_num(fullName) {
                let general = OPENSSL_sk_value(fullName, nameIndex).assumingMemoryBound(to: GENERAL_NAME.self).pointee
                guard general.type == GEN_URI else { continue }
                uris.append(String(decoding: ASN1Conversions.bytes(general.d.uniformResourceIdentifier), as: UTF8.self))
            }
        }
        return uris
    }

    /// Subject key identifier, if present.
    public var subjectKeyIdentifier: [UInt8]? {
        X509_get0_subject_key_id(pointer).map { ASN1Conversions.bytes($0) }
    }

    /// The key-identifier part of the authority key identifier, if present.
    public var authorityKeyIdentifier: [UInt8]? {
        X509_get0_authority_key_id(pointer).map { ASN1Conversions.bytes($0) }
    }

    /// The extension with a dotted-decimal OID, if present.
    public func `extension`(oid: String) -> CertificateExtension? {
        extensions.first { $0.oid == oid }
    }

    /// Whether subject and issuer are the same name (a root, or a CA re-keying itself).
    public var isSelfIssued: Bool {
        X509_NAME_cmp(X509_get_subject_name(pointer), X509_get_issuer_name(pointer)) == 0
    }

    /// Whether the certificate is self-issued and its signature verifies with its own key.
    public var isSelfSigned: Bool {
        X509_self_signed(pointer, 1) == 1
    }

    /// Whether this certificate's signature verifies with `issuer`'s public key (names are not compared).
    public func isSignatureValid(issuer: X509Certificate) -> Bool {
        guard let key = X509_get0_pubkey(issuer.pointer) else {
            ERR_clear_error()
            return false
        }
        defer { ERR_clear_error() }
        return X509_verify(pointer, key) == 1
    }

    /// Whether `date` lies in the validity window, from `notValidBefore` through the whole second `notValidAfter`
    /// names (certificate times have one-second precision).
    public func isValid(at date: Date) -> Bool {
        notValidBefore <= date && date < notValidAfter + 1
    }

    public static func == (lhs: X509Certificate, rhs: X509Certificate) -> Bool {
        lhs.derRepresentation == rhs.derRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        sha256Fingerprint.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
