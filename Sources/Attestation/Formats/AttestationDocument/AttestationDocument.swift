import CloisterCBOR

/// The payload of an attestation document shaped like AWS Nitro's: what produced it, its measurements (PCRs),
/// the signing certificate with its CA bundle, and the optional values the requester bound into it.
///
/// Cloister quotes use the same shape, plus one extension map (`cloister`); both formats decode here, so one
/// verifier path serves both. Field limits follow AWS's published document specification.
public struct AttestationDocument: Sendable, Hashable {
    /// The digest names a document may declare for its PCRs.
    public static let digests = ["SHA256": 32, "SHA384": 48, "SHA512": 64]
    /// The largest certificate, public key, user data and nonce AWS allows.
    public static let maximumCertificateSize = 1024
    public static let maximumPublicKeySize = 1024
    public static let maximumUserDataSize = 512
    public static let maximumNonceSize = 512
    /// PCR indices run from 0 to 31.
    public static let pcrCount = 32

    /// The module (enclave) that the document describes.
    public var moduleID: String
    /// The PCR digest algorithm name ("SHA384").
    public var digest: String
    /// Milliseconds since the Unix epoch at which the document was made.
    public var timestamp: UInt64
    /// PCR index to value.
    public var pcrs: [UInt64: [UInt8]]
    /// The signing (leaf) certificate, DER.
    public var certificate: [UInt8]
    /// The issuing chain, DER, the root first.
    public var caBundle: [[UInt8]]
    public var publicKey: [UInt8]?
    public var userData: [UInt8]?
    public var nonce: [UInt8]?
    /// Cloister's extension; nil in real Nitro documents.
    public var cloister: CloisterClaims?

    public init(
        moduleID: String, digest: String, timestamp: UInt64, pcrs: [UInt64: [UInt8]], certificate: [UInt8],
        caBundle: [[UInt8]], publicKey: [UInt8]? = nil, userData: [UInt8]? = nil, nonce: [UInt8]? = nil,
        cloister: CloisterClaims? = nil
    ) {
        self.moduleID = moduleID
        self.digest = digest
        self.timestamp = timestamp
        self.pcrs = pcrs
        self.certificate = certificate
        self.caBundle = caBundle
        self.publicKey = publicKey
        self.userData = userData
        self.nonce = nonce
        self.cloister = cloister
    }

    /// The document as a deterministic CBOR map (absent optional values are `null`, as Nitro writes them), written
    /// directly in canonical key order: pcrs, nonce, digest, cabundle, cloister, module_id, timestamp, user_data,
    /// public_key, certificate (RFC 8949 §4.2.1: shorter keys first, then bytewise).
    public func encoded() throws -> [UInt8] {
        try validate()
        let size =
            512 + certificate.count + caBundle.reduce(0) { $0 + $1.count + 3 } + (publicKey?.count ?? 0)
            + (userData?.count ?? 0) + (nonce?.count ?? 0) + pcrs.count * 52
        var writer = CBORWriter(reservingCapacity: size)
        writer.writeHead(major: 5, argument: cloister == nil ? 9 : 10)
        writer.writeText("pcrs")
        writer.writeHead(major: 5, argument: UInt64(pcrs.count))
        for (index, value) in pcrs.sorted(by: { $0.key < $1.key }) {
            writer.writeHead(major: 0, argument: index)
            writer.writeByteString(value)
        }
        writer.writeText("nonce")
        Self.writeOptional(nonce, &writer)
        writer.writeText("digest")
        writer.writeText(digest)
        writer.writeText("cabundle")
        writer.writeHead(major: 4, argument: UInt64(caBundle.count))
        for der in caBundle { writer.writeByteString(der) }
        if let cloister {
            writer.writeText("cloister")
            cloister.write(&writer)
        }
        writer.writeText("module_id")
        writer.writeText(moduleID)
        writer.writeText("timestamp")
        writer.writeHead(major: 0, argument: timestamp)
        writer.writeText("user_data")
        Self.writeOptional(userData, &writer)
        writer.writeText("public_key")
        Self.writeOptional(publicKey, &writer)
        writer.writeText("certificate")
        writer.writeByteString(certificate)
        return writer.bytes
    }

    private static func writeOptional(_ bytes: [UInt8]?, _ writer: inout CBORWriter) {
        if let bytes { writer.writeByteString(bytes) } else { writer.writeHead(major: 7, argument: 22) }
    }

    /// Decodes a payload, refusing unknown fields, wrong types and sizes outside AWS's limits.
    public init(payload: [UInt8]) throws(AttestationError) {
        let value: CBORValue
        do {
            value = try CBORDecoder().decode(payload)
        } catch {
            throw AttestationError(
                .malformedEvidence, "attestation document payload is not valid CBOR: \(error.reason)")
        }
        guard let entries = value.mapValue else { throw Self.malformed("is not a CBOR map") }
        let fields = try Fields(entries)
        guard let moduleID = fields.moduleID?.textValue, !moduleID.isEmpty else {
            throw Self.malformed("\"module_id\" is missing or not a non-empty text string")
        }
        guard let digest = fields.digest?.textValue, let pcrLength = Self.digests[digest] else {
            throw Self.malformed("\"digest\" is missing or not one of SHA256, SHA384, SHA512")
        }
        guard let timestamp = fields.timestamp?.uint64Value, timestamp > 0 else {
            throw Self.malformed("\"timestamp\" is missing or not a positive integer")
        }
        guard let pcrEntries = fields.pcrs?.mapValue, (1...Self.pcrCount).contains(pcrEntries.count) else {
            throw Self.malformed("\"pcrs\" is missing or not a map of 1 to \(Self.pcrCount) entries")
        }
        var pcrs: [UInt64: [UInt8]] = [:]
        for entry in pcrEntries {
            guard let index = entry.key.uint64Value, index < UInt64(Self.pcrCount), let pcr = entry.value.bytesValue,
                pcr.count == pcrLength
            else {
                throw Self.malformed("PCR \(entry.key) is not an index below \(Self.pcrCount) with \(pcrLength) bytes")
            }
            pcrs[index] = pcr
        }
        guard let certificate = fields.certificate?.bytesValue,
            (1...Self.maximumCertificateSize).contains(certificate.count)
        else { throw Self.malformed("\"certificate\" is missing or not 1 to \(Self.maximumCertificateSize) bytes") }
        guard let bundle = fields.caBundle?.arrayValue, !bundle.isEmpty else {
            throw Self.malformed("\"cabundle\" is missing or empty")
        }
        let caBundle = try bundle.enumerated().map { index, item throws(AttestationError) in
            guard let der = item.bytesValue, (1...Self.maximumCertificateSize).contains(der.count) else {
                throw Self.malformed("cabundle[\(index)] is not 1 to \(Self.maximumCertificateSize) bytes")
            }
            return der
        }
        self.init(
            moduleID: moduleID, digest: digest, timestamp: timestamp, pcrs: pcrs, certificate: certificate,
            caBundle: caBundle,
            publicKey: try Self.optionalBytes(fields.publicKey, "public_key", 1...Self.maximumPublicKeySize),
            userData: try Self.optionalBytes(fields.userData, "user_data", 0...Self.maximumUserDataSize),
            nonce: try Self.optionalBytes(fields.nonce, "nonce", 0...Self.maximumNonceSize),
            cloister: try fields.cloister.map { value throws(AttestationError) in try CloisterClaims(value) })
    }

    /// Throws for a document this type would refuse to decode.
    func validate() throws(AttestationError) {
        guard !moduleID.isEmpty else { throw Self.malformed("has an empty module id") }
        guard let length = Self.digests[digest] else { throw Self.malformed("names an unknown digest \(digest)") }
        guard (1...Self.pcrCount).contains(pcrs.count),
            pcrs.allSatisfy({ $0.key < UInt64(Self.pcrCount) && $0.value.count == length })
        else { throw Self.malformed("needs 1 to \(Self.pcrCount) PCRs of \(length) bytes") }
        guard !caBundle.isEmpty else { throw Self.malformed("has an empty CA bundle") }
        for (name, bytes, limit) in [
            ("certificate", certificate, Self.maximumCertificateSize),
            ("public_key", publicKey ?? [0], Self.maximumPublicKeySize),
            ("user_data", userData ?? [], Self.maximumUserDataSize),
            ("nonce", nonce ?? [], Self.maximumNonceSize),
        ] where bytes.count > limit {
            throw Self.malformed("\"\(name)\" is \(bytes.count) bytes, more than \(limit)")
        }
    }

    private static func optionalBytes(
        _ field: CBORValue?, _ key: String, _ sizes: ClosedRange<Int>
    ) throws(AttestationError) -> [UInt8]? {
        guard let item = field, !item.isNull else { return nil }
        guard let bytes = item.bytesValue, sizes.contains(bytes.count) else {
            throw malformed("\"\(key)\" is not null or \(sizes.lowerBound) to \(sizes.upperBound) bytes")
        }
        return bytes
    }

    static func malformed(_ problem: String) -> AttestationError {
        AttestationError(.malformedEvidence, "attestation document \(problem)")
    }
}

/// The fields of a document's payload by name, read in one pass over its map: AWS's nine and Cloister's claims,
/// anything else refused.
private struct Fields {
    var moduleID, digest, timestamp, pcrs, certificate, caBundle, publicKey, userData, nonce, cloister: CBORValue?

    init(_ entries: [CBORMapEntry]) throws(AttestationError) {
        for entry in entries {
            switch entry.key.textValue {
            case "module_id": moduleID = entry.value
            case "digest": digest = entry.value
            case "timestamp": timestamp = entry.value
            case "pcrs": pcrs = entry.value
            case "certificate": certificate = entry.value
            case "cabundle": caBundle = entry.value
            case "public_key": publicKey = entry.value
            case "user_data": userData = entry.value
            case "nonce": nonce = entry.value
            case "cloister": cloister = entry.value
            default: throw AttestationDocument.malformed("has unknown field \(entry.key)")
            }
        }
    }
}
