internal import COpenSSL
public import FoundationEssentials

/// One entry of a CRL: a revoked serial number and when it was revoked.
public struct RevokedCertificate: Sendable, Hashable {
    /// Serial number, big-endian magnitude.
    public let serialNumber: [UInt8]
    public let revocationDate: Date

    public init(serialNumber: [UInt8], revocationDate: Date) {
        self.serialNumber = serialNumber
        self.revocationDate = revocationDate
    }
}

/// An immutable parsed X.509 v2 certificate revocation list (RFC 5280 §5).
public final class CertificateRevocationList: @unchecked Sendable, Hashable {
    let pointer: OpaquePointer
    /// The CRL exactly as encoded (DER).
    public let derRepresentation: [UInt8]
    /// SHA-256 of the DER encoding.
    public let sha256Fingerprint: [UInt8]
    public let issuer: DistinguishedName
    public let thisUpdate: Date
    /// When the next CRL is due; Cloister treats the CRL as expired from this second on (as OpenSSL does).
    public let nextUpdate: Date?
    public let revokedCertificates: [RevokedCertificate]
    /// The CRL number extension, big-endian magnitude, if present.
    public let crlNumber: [UInt8]?
    /// The key-identifier part of the authority key identifier extension, if present.
    public let authorityKeyIdentifier: [UInt8]?

    /// Parses a DER CRL; throws for anything that is not exactly one well-formed CRL.
    public convenience init(derRepresentation der: some ContiguousBytesView) throws {
        let bytes = der.withBytes { Array($0) }
        let parsed: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            guard let crl = d2i_X509_CRL(nil, &cursor, buffer.count) else { return nil }
            guard cursor == buffer.baseAddress.map({ $0 + buffer.count }) else {
                X509_CRL_free(crl)
                return nil
            }
            return crl
        }
        guard let parsed else {
            let detail = drainOpenSSLErrors()
            throw CryptoError(.malformedInput, "\(bytes.count) bytes are not exactly one DER X.509 CRL: \(detail)")
        }
        try self.init(taking: parsed, der: bytes)
    }

    /// Parses the first `X509 CRL` block of a PEM text.
    public convenience init(pemRepresentation pem: String) throws {
        let parsed = try ASN1Conversions.withReadBIO(Array(pem.utf8)) { bio in
            guard let crl = PEM_read_bio_X509_CRL(bio, nil, nil, nil) else {
                throw CryptoError(.malformedInput, "no well-formed PEM X509 CRL block: \(drainOpenSSLErrors())")
            }
            return crl
        }
        try self.init(adopting: parsed)
    }

    /// Takes ownership of `pointer` (freed on failure too) and records its DER encoding.
    convenience init(adopting pointer: OpaquePointer) throws {
        try self.init(
            taking: pointer,
            der: ASN1Conversions.der(pointer, "i2d_X509_CRL", free: { X509_CRL_free($0) }) { i2d_X509_CRL($0, $1) })
    }

    /// Takes ownership of `pointer`; on failure it is freed here.
    private init(taking pointer: OpaquePointer, der: [UInt8]) throws {
        self.pointer = pointer
        self.derRepresentation = der
        self.sha256Fingerprint = DigestAlgorithm.sha256.hash(der)
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
            revokedCertificates = entries
            crlNumber = try Self.decodedExtension(pointer, NID_crl_number, "CRL number") { decoded in
                let number = decoded.assumingMemoryBound(to: ASN1_INTEGER.self)
                defer { ASN1_INTEGER_free(number) }
                return try ASN1Conversions.integerBytes(number)
            }
            authorityKeyIdentifier = try Self.decodedExtension(
                pointer, NID_authority_key_identifier, "authority key identifier"
            ) { decoded in
                let identifier = decoded.assumingMemoryBound(to: AUTHORITY_KEYID.self)
                defer { AUTHORITY_KEYID_free(identifier) }
                return identifier.pointee.keyid.map { ASN1Conversions.bytes($0) }
            }.flatMap { $0 }
        } catch {
            X509_CRL_free(pointer)
            throw error
        }
    }

    deinit { X509_CRL_free(pointer) }

    /// Decodes an extension with `read` (which owns the decoded value); nil when absent, throws when malformed.
    private static func decodedExtension<T>(
        _ crl: OpaquePointer,
        _ nid: Int32,
        _ name: String,
        _ read: (UnsafeMutableRawPointer) throws -> T
    ) throws -> T? {
        var criticality: Int32 = 0
        guard let decoded = X509_CRL_get_ext_d2i(crl, nid, &criticality, nil) else {
            // OpenSSL reports -1 for an absent extension, -2 for a repeated one and >= 0 for an undecodable one.
            guard criticality == -1 else {
                throw CryptoError(.malformedInput, "CRL \(name) extension is malformed or repeated")
            }
            ERR_clear_error()
            return nil
        }
        return try read(decoded)
    }

    /// The PEM `X509 CRL` block.
    /// Every CRL in a PEM bundle, in order.
    public static func lists(fromPEM pem: String) throws -> [CertificateRevocationList] {
        let marker = "-----END X509 CRL-----"
        return try pem.split(separator: marker).filter { $0.contains("-----BEGIN X509 CRL-----") }.map {
            try CertificateRevocationList(pemRepresentation: String($0) + marker + "\n")
        }
    }

    public var pemRepresentation: String {
        guard let bio = BIO_new(BIO_s_mem()) else { fatalError("BIO_new failed: \(drainOpenSSLErrors())") }
        defer { BIO_free(bio) }
        // Writing a parsed CRL to memory fails only when memory runs out.
        precondition(
            PEM_write_bio_X509_CRL(bio, pointer) == 1, "PEM_write_bio_X509_CRL failed: \(drainOpenSSLErrors())")
        return String(decoding: ASN1Conversions.drain(bio), as: UTF8.self)
    }

    /// The signature algorithm's name, e.g. "ecdsa-with-SHA256".
    public var signatureAlgorithm: String {
        ASN1Conversions.longName(X509_CRL_get_signature_nid(pointer))
    }

    /// The entry revoking `certificate`'s serial number, if any (whether this CRL covers `certificate`, i.e. was
    /// issued by its issuer, is for the caller to decide).
    public func entry(for certificate: X509Certificate) -> RevokedCertificate? {
        revokedCertificates.first { $0.serialNumber == certificate.serialNumber }
    }

    /// Whether this CRL names `certificate`'s subject as its issuer.
    public func isIssued(byNameOf certificate: X509Certificate) -> Bool {
        X509_NAME_cmp(X509_CRL_get_issuer(pointer), X509_get_subject_name(certificate.pointer)) == 0
    }

    /// Whether this CRL's signature verifies with `issuer`'s public key.
    public func isSignatureValid(issuer: X509Certificate) -> Bool {
        guard let key = X509_get0_pubkey(issuer.pointer) else {
            ERR_clear_error()
            return false
        }
        defer { ERR_clear_error() }
        return X509_CRL_verify(pointer, key) == 1
    }

    /// Whether `date` lies in `thisUpdate <= date < nextUpdate` (no nextUpdate: from thisUpdate on).
    public func isCurrent(at date: Date) -> Bool {
        thisUpdate <= date && nextUpdate.map { date < $0 } ?? true
    }

    public static func == (lhs: CertificateRevocationList, rhs: CertificateRevocationList) -> Bool {
        lhs.derRepresentation == rhs.derRepresentation
    }

    public func hash(into hasher: inout Hasher) {
        sha256Fingerprint.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
