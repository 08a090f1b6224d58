internal import COpenSSL
public import FoundationEssentials

/// Key usages of an X.509 certificate (RFC 5280 §4.2.1.3).
public struct KeyUsage: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let digitalSignature = KeyUsage(rawValue: 0x0080)
    public static let nonRepudiation = KeyUsage(rawValue: 0x0040)
    public static let keyEncipherment = KeyUsage(rawValue: 0x0020)
    public static let dataEncipherment = KeyUsage(rawValue: 0x0010)
    public static let keyAgreement = KeyUsage(rawValue: 0x0008)
    public static let keyCertSign = KeyUsage(rawValue: 0x0004)
    public static let cRLSign = KeyUsage(rawValue: 0x0002)

    /// The OpenSSL configuration words for these usages ("digitalSignature,keyCertSign").
    var configurationValue: String {
        let names: [(KeyUsage, String)] = [
            (.digitalSignature, "digitalSignature"), (.nonRepudiation, "nonRepudiation"),
            (.keyEncipherment, "keyEncipherment"), (.dataEncipherment, "dataEncipherment"),
            (.keyAgreement, "keyAgreement"), (.keyCertSign, "keyCertSign"), (.cRLSign, "cRLSign"),
        ]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: ",")
    }
}

/// An extension's raw value and criticality.
public struct CertificateExtension: Sendable, Hashable {
    /// Dotted-decimal object identifier.
    public let oid: String
    public let isCritical: Bool
    /// The extension's value: the contents of its extnValue OCTET STRING (DER of the extension's own type).
    public let value: [UInt8]

    public init(oid: String, isCritical: Bool, value: [UInt8]) {
        self.oid = oid
        self.isCritical = isCritical
        self.value = value
    }
}

/// An immutable parsed X.509 v3 certificate.
public final class X509Certificate: @unchecked Sendable, Hashable, CustomStringConvertible {
    let pointer: OpaquePointer
    /// The certificate exactly as encoded (DER).
    public let derRepresentation: [UInt8]
    public let subject: DistinguishedName
    public let issuer: DistinguishedName
    /// Serial number, big-endian magnitude.
    public let serialNumber: [UInt8]
    public let notValidBefore: Date
    public let notValidAfter: Date

    /// Parses a DER certificate; throws for anything that is not exactly one well-formed certificate.
    public convenience init(derRepresentation der: some ContiguousBytesView) throws {
        let bytes = der.withBytes { Array($0) }
        var cursor: UnsafePointer<UInt8>? = nil
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            cursor = buffer.baseAddress
            let certificate = d2i_X509(nil, &cursor, buffer.count)
            if certificate != nil, let base = buffer.baseAddress, cursor != base + buffer.count {
                X509_free(certificate)
                return nil
            }
            return certificate
        }
        guard let parsed else {
            throw CryptoError(
                .malformedInput, "not a DER X.509 certificate (or trailing bytes): \(drainOpenSSLErrors())")
        }
        try self.init(taking: parsed, der: bytes)
    }

    /// Parses the first `CERTIFICATE` block of a PEM text.
    public convenience init(pemRepresentation pem: String) throws {
        let certificates = try Self.certificates(fromPEM: pem)
        guard let first = certificates.first else {
            throw CryptoError(.malformedInput, "no PEM CERTIFICATE block found")
        }
        try self.init(derRepresentation: first.derRepresentation)
    }

    /// Every `CERTIFICATE` block of a PEM bundle, in order.
    public static func certificates(fromPEM pem: String) throws -> [X509Certificate] {
        try ASN1Conversions.withReadBIO(Array(pem.utf8)) { bio in
            var certificates: [X509Certificate] = []
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                certificates.append(try X509Certificate(adopting: certificate))
            }
            // Reading stops with "no start line" at the end of the text; anything else is a malformed block.
            let error = ERR_peek_last_error()
            if error != 0 && ERR_GET_REASON(error) != PEM_R_NO_START_LINE {
                throw CryptoError(.malformedInput, "malformed PEM certificate: \(drainOpenSSLErrors())")
            }
            ERR_clear_error()
            return certificates
        }
    }

    /// Takes ownership of `pointer` (freed on failure too) and records its DER encoding.
    convenience init(adopting pointer: OpaquePointer) throws {
        var der: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509(pointer, &der)
        guard length > 0, let der else {
            X509_free(pointer)
            throw CryptoError.openSSL("i2d_X509")
        }
        defer { cloister_OPENSSL_free(der) }
        try self.init(taking: pointer, der: Array(UnsafeBufferPointer(start: der, count: Int(length))))
    }

    init(taking pointer: OpaquePointer, der: [UInt8]) throws {
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
        // Caches extension flags; a certificate whose extensions do not parse is marked EXFLAG_INVALID.
        if X509_get_extension_flags(pointer) & UInt32(EXFLAG_INVALID) != 0 {
            throw CryptoError(.malformedInput, "certificate \(subject) has malformed extensions")
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

    /// SHA-256 of the DER encoding (the usual certificate fingerprint).
    public var sha256Fingerprint: [UInt8] { DigestAlgorithm.sha256.hash(derRepresentation) }

    /// Whether basic constraints mark this certificate as a CA.
    public var isCertificateAuthority: Bool {
        X509_get_extension_flags(pointer) & UInt32(EXFLAG_CA) != 0
    }

    /// The basic-constraints path length, if one is set.
    public var pathLengthConstraint: Int? {
        let length = X509_get_pathlen(pointer)
        return length >= 0 ? Int(length) : nil
    }

    /// The key usages, or nil when the certificate has no key-usage extension.
    public var keyUsage: KeyUsage? {
        let flags = X509_get_extension_flags(pointer)
        guard flags & UInt32(EXFLAG_KUSAGE) != 0 else { return nil }
        return KeyUsage(rawValue: X509_get_key_usage(pointer))
    }

    /// Whether the certificate is self-issued and its signature verifies with its own key.
    public var isSelfSigned: Bool {
        X509_self_signed(pointer, 1) == 1
    }

    /// Subject key identifier, if present.
    public var subjectKeyIdentifier: [UInt8]? {
        X509_get0_subject_key_id(pointer).map { ASN1Conversions.bytes($0) }
    }

    /// Authority key identifier (key id part), if present.
    public var authorityKeyIdentifier: [UInt8]? {
        X509_get0_authority_key_id(pointer).map { ASN1Conversions.bytes($0) }
    }

    /// The signature algorithm's long name (e.g. "ecdsa-with-SHA384").
    public var signatureAlgorithm: String {
        String(cString: OBJ_nid2ln(X509_get_signature_nid(pointer)))
    }

    /// Every extension, in order.
    public var extensions: [CertificateExtension] {
        (0..<X509_get_ext_count(pointer)).map { index in
            let item = X509_get_ext(pointer, index)
            return CertificateExtension(
                oid: ASN1Conversions.dottedText(X509_EXTENSION_get_object(item)),
                isCritical: X509_EXTENSION_get_critical(item) == 1,
                value: ASN1Conversions.bytes(X509_EXTENSION_get_data(item)))
        }
    }

    /// The extension with a dotted-decimal OID, if present.
    public func `extension`(oid: String) -> CertificateExtension? {
        extensions.first { $0.oid == oid }
    }

    /// The subject public key; throws unless it is an EC key on P-256 or P-384.
    public func publicKey() throws -> ECPublicKey {
        guard let key = X509_get0_pubkey(pointer) else {
            throw CryptoError(
                .invalidKey, "certificate \(subject) has an unreadable public key: \(drainOpenSSLErrors())")
        }
        guard EVP_PKEY_up_ref(key) == 1 else { throw CryptoError.openSSL("EVP_PKEY_up_ref") }
        return try ECPublicKey(key: EVPKey(taking: key))
    }

    /// Whether `date` lies inside the validity window. As in OpenSSL's chain verification (which this must agree
    /// with), the notAfter second itself already counts as expired.
    public func isValid(at date: Date) -> Bool {
        notValidBefore <= date && date < notValidAfter
    }

    public var description: String { subject.description }

    public static func == (lhs: X509Certificate, rhs: X509Certificate) -> Bool {
        lhs.derRepresentation == rhs.derRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(derRepresentation)
    }
}
