internal import COpenSSL
public import FoundationEssentials

/// One entry of a CRL.
public struct RevokedCertificate: Sendable, Hashable {
    /// Serial number, big-endian magnitude.
    public let serialNumber: [UInt8]
    public let revocationDate: Date

    public init(serialNumber: [UInt8], revocationDate: Date) {
        self.serialNumber = serialNumber
        self.revocationDate = revocationDate
    }
}

/// An immutable parsed X.509 v2 certificate revocation list.
public final class CertificateRevocationList: @unchecked Sendable {
    let pointer: OpaquePointer
    public let derRepresentation: [UInt8]
    public let issuer: DistinguishedName
    public let thisUpdate: Date
    public let nextUpdate: Date?
    public let revoked: [RevokedCertificate]

    /// Parses a DER CRL.
    public convenience init(derRepresentation der: some ContiguousBytesView) throws {
        let bytes = der.withBytes { Array($0) }
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            let crl = d2i_X509_CRL(nil, &cursor, buffer.count)
            if crl != nil, let base = buffer.baseAddress, cursor != base + buffer.count {
                X509_CRL_free(crl)
                return nil
            }
            return crl
        }
        guard let parsed else {
            throw CryptoError(.malformedInput, "not a DER X.509 CRL (or trailing bytes): \(drainOpenSSLErrors())")
        }
        try self.init(taking: parsed, der: bytes)
    }

    /// Parses the first `X509 CRL` block of a PEM text.
    public convenience init(pemRepresentation pem: String) throws {
        let parsed = try ASN1Conversions.withReadBIO(Array(pem.utf8)) { bio in
            guard let crl = PEM_read_bio_X509_CRL(bio, nil, nil, nil) else {
                throw CryptoError(.malformedInput, "no valid PEM X509 CRL block: \(drainOpenSSLErrors())")
            }
            return crl
        }
        try self.init(adopting: parsed)
    }

    /// Takes ownership of `pointer` (freed on failure too) and records its DER encoding.
    convenience init(adopting pointer: OpaquePointer) throws {
        var der: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509_CRL(pointer, &der)
        guard length > 0, let der else {
            X509_CRL_free(pointer)
            throw CryptoError.openSSL("i2d_X509_CRL")
        }
        defer { cloister_OPENSSL_free(der) }
        try self.init(taking: pointer, der: Array(UnsafeBufferPointer(start: der, count: Int(length))))
    }

    init(taking pointer: OpaquePointer, der: [UInt8]) throws {
        self.pointer = pointer
        self.derRepresentation = der
        do {
            issuer = try DistinguishedName(reading: X509_CRL_get_issuer(pointer))
            thisUpdate = try ASN1Conversions.date(X509_CRL_get0_lastUpdate(pointer))
            nextUpdate = try X509_CRL_get0_nextUpdate(pointer).map { try ASN1Conversions.date($0) }
            var entries: [RevokedCertificate] = []
            if let stack = X509_CRL_get_REVOKED(pointer) {
                for index in 0..<cloister_sk_X509_REVOKED_num(stack) {
                    let entry = cloister_sk_X509_REVOKED_value(stack, index)
                    entries.append(
                        RevokedCertificate(
                            serialNumber: try ASN1Conversions.integerBytes(X509_REVOKED_get0_serialNumber(entry)),
                            revocationDate: try ASN1Conversions.date(X509_REVOKED_get0_revocationDate(entry))))
                }
            }
            revoked = entries
        } catch {
            X509_CRL_free(pointer)
            throw error
        }
    }

    deinit { X509_CRL_free(pointer) }

    /// The PEM `X509 CRL` block.
    public var pemRepresentation: String {
        guard let bio = BIO_new(BIO_s_mem()) else { fatalError("BIO_new failed: \(drainOpenSSLErrors())") }
        defer { BIO_free(bio) }
        precondition(
            PEM_write_bio_X509_CRL(bio, pointer) == 1, "PEM_write_bio_X509_CRL failed: \(drainOpenSSLErrors())")
        return String(decoding: ASN1Conversions.drain(bio), as: UTF8.self)
    }

    /// Whether `certificate`'s serial number is listed (the caller checks that this CRL's issuer is its issuer).
    public func lists(_ certificate: X509Certificate) -> Bool {
        revoked.contains { $0.serialNumber == certificate.serialNumber }
    }

    static func write(
        issuer: X509Certificate,
        signingKey: ECPrivateKey,
        number: UInt64,
        thisUpdate: Date,
        nextUpdate: Date,
        revoked: [RevokedCertificate]
    ) throws -> CertificateRevocationList {
        guard thisUpdate <= nextUpdate else {
            throw CryptoError(.invalidParameter, "CRL nextUpdate precedes thisUpdate")
        }
        guard let crl = X509_CRL_new() else { throw CryptoError.openSSL("X509_CRL_new") }
        var owned = true
        defer { if owned { X509_CRL_free(crl) } }
        try requireOne(X509_CRL_set_version(crl, 1), "X509_CRL_set_version")
        try requireOne(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer.pointer)), "X509_CRL_set_issuer_name")
        try setTime(thisUpdate) { X509_CRL_set1_lastUpdate(crl, $0) }
        try setTime(nextUpdate) { X509_CRL_set1_nextUpdate(crl, $0) }
        for entry in revoked {
            guard let item = X509_REVOKED_new() else { throw CryptoError.openSSL("X509_REVOKED_new") }
            let serial = try ASN1Conversions.makeInteger(entry.serialNumber)
            defer { ASN1_INTEGER_free(serial) }
            guard X509_REVOKED_set_serialNumber(item, serial) == 1 else {
                X509_REVOKED_free(item)
                throw CryptoError.openSSL("X509_REVOKED_set_serialNumber")
            }
            do {
                try setTime(entry.revocationDate) {
                    X509_REVOKED_set_revocationDate(item, UnsafeMutablePointer(mutating: $0))
                }
            } catch {
                X509_REVOKED_free(item)
                throw error
            }
            guard X509_CRL_add0_revoked(crl, item) == 1 else {
                X509_REVOKED_free(item)
                throw CryptoError.openSSL("X509_CRL_add0_revoked")
            }
        }
        try requireOne(X509_CRL_sort(crl), "X509_CRL_sort")
        let crlNumber = try ASN1Conversions.makeInteger(bigEndianBytes(number))
        defer { ASN1_INTEGER_free(crlNumber) }
        try requireOne(X509_CRL_add1_ext_i2d(crl, NID_crl_number, crlNumber, 0, 0), "X509_CRL_add1_ext_i2d(crlNumber)")
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, issuer.pointer, nil, nil, crl, 0)
        guard let authorityKeyID = X509V3_EXT_nconf_nid(nil, &context, NID_authority_key_identifier, "keyid:always")
        else {
            throw CryptoError.openSSL("X509V3_EXT_nconf_nid(authorityKeyIdentifier)")
        }
        defer { X509_EXTENSION_free(authorityKeyID) }
        try requireOne(X509_CRL_add_ext(crl, authorityKeyID, -1), "X509_CRL_add_ext")
        guard X509_CRL_sign(crl, signingKey.key.pointer, signingKey.curve.defaultDigest.method) > 0 else {
            throw CryptoError.openSSL("X509_CRL_sign")
        }
        owned = false
        return try CertificateRevocationList(adopting: crl)
    }

    private static func setTime(_ date: Date, _ apply: (UnsafePointer<ASN1_TIME>) -> Int32) throws {
        guard let time = ASN1_TIME_new() else { throw CryptoError.openSSL("ASN1_TIME_new") }
        defer { ASN1_TIME_free(time) }
        try ASN1Conversions.setTime(time, to: date)
        try requireOne(apply(time), "setting a CRL time")
    }

    private static func bigEndianBytes(_ value: UInt64) -> [UInt8] {
        let bytes = (0..<8).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
        return Array(bytes.drop { $0 == 0 }.isEmpty ? [0] : bytes.drop { $0 == 0 })
    }
}
