public import CloisterCrypto

/// A COSE_Sign1 message (RFC 9052 §4.2) signed with ES256 or ES384.
///
/// The protected header and payload are kept as the exact bytes received, and the signature is checked over
/// those bytes: nothing signed is ever re-encoded.
public struct COSESign1: Sendable {
    /// The CBOR tag that marks a COSE_Sign1 message.
    public static let tag: UInt64 = 18

    /// The protected header bucket exactly as serialized (the contents of its byte string); the signature covers it.
    public let protectedHeaderBytes: [UInt8]
    /// The protected header map decoded from `protectedHeaderBytes`.
    public let protectedHeader: [CBORMapEntry]
    /// The unprotected header map (not covered by the signature).
    public let unprotectedHeader: [CBORMapEntry]
    /// The payload exactly as carried (the contents of its byte string); the signature covers it.
    public let payload: [UInt8]
    /// The raw `r || s` signature.
    public let signature: [UInt8]
    /// The signature algorithm, from the protected header.
    public let algorithm: COSEAlgorithm

    /// Signs `payload` with `key` (ES256 for P-256, ES384 for P-384), binding `externalAAD` into the signature.
    /// The protected header holds only the algorithm; `keyID` goes into the unprotected header as label 4.
    public init(
        signing payload: [UInt8],
        with key: ECPrivateKey,
        unprotectedHeader: [CBORMapEntry] = [],
        keyID: [UInt8]? = nil,
        externalAAD: [UInt8] = []
    ) throws {
        let algorithm = COSEAlgorithm(curve: key.curve)
        let protectedHeader = [CBORMapEntry(.unsigned(HeaderLabel.algorithm), CBORValue(algorithm.rawValue))]
        var unprotected = unprotectedHeader
        if let keyID { unprotected.append(CBORMapEntry(.unsigned(HeaderLabel.keyID), .bytes(keyID))) }
        try Self.checkLabelsDisjoint(protectedHeader, unprotected)
        // Encoding now rejects duplicate unprotected labels before anything is signed.
        _ = try CBORValue.map(unprotected).encoded()
        let protectedHeaderBytes = try CBORValue.map(protectedHeader).encoded()
        let digest = algorithm.curve.defaultDigest
        let toBeSigned = Self.signatureStructureDigest(protectedHeaderBytes, externalAAD, payload, digest)
        self.protectedHeaderBytes = protectedHeaderBytes
        self.protectedHeader = protectedHeader
        self.unprotectedHeader = unprotected
        self.payload = payload
        self.signature = try key.signature(forDigest: toBeSigned, digest: digest).rawRepresentation
        self.algorithm = algorithm
    }

    /// Parses a COSE_Sign1 message, tagged (18) or untagged.
    ///
    /// Throws `CBORError` when the bytes are not well-formed CBOR (or break `decoder`'s limits) and `COSEError`
    /// when they are not a COSE_Sign1 with a protected ES256/ES384 algorithm and a signature of the right length.
    public init(encoded: some ContiguousBytesView, decoder: CBORDecoder = CBORDecoder()) throws {
        var message = try decoder.decode(encoded)
        if case .tagged(let tag, let content) = message {
            guard tag == Self.tag else {
                throw COSEError(.malformed, "COSE_Sign1 carries tag \(tag), expected \(Self.tag) or none")
            }
            message = content
        }
        guard case .array(let fields) = message, fields.count == 4 else {
            throw COSEError(.malformed, "COSE_Sign1 must be an array of 4 items, got \(Self.shape(of: message))")
        }
        guard case .bytes(let protectedHeaderBytes) = fields[0] else {
            throw COSEError(.malformed, "protected header must be a byte string, got \(Self.shape(of: fields[0]))")
        }
        let protectedHeader: [CBORMapEntry]
        if protectedHeaderBytes.isEmpty {
            protectedHeader = []
        } else {
            guard case .map(let entries) = try decoder.decode(protectedHeaderBytes) else {
                throw COSEError(.malformed, "protected header bytes must encode a map")
            }
            protectedHeader = entries
        }
        guard case .map(let unprotectedHeader) = fields[1] else {
            throw COSEError(.malformed, "unprotected header must be a map, got \(Self.shape(of: fields[1]))")
        }
        guard case .bytes(let payload) = fields[2] else {
            let detail = fields[2].isNull ? "detached payloads (nil) are not supported" : Self.shape(of: fields[2])
            throw COSEError(.malformed, "payload must be a byte string: \(detail)")
        }
        guard case .bytes(let signature) = fields[3] else {
            throw COSEError(.malformed, "signature must be a byte string, got \(Self.shape(of: fields[3]))")
        }
        try Self.checkLabelsDisjoint(protectedHeader, unprotectedHeader)
        let algorithm = try Self.algorithm(protectedHeader, unprotectedHeader)
        let expectedLength = 2 * algorithm.curve.coordinateByteCount
        guard signature.count == expectedLength else {
            throw COSEError(
                .malformed,
                "\(algorithm.name) signature must be \(expectedLength) bytes r||s, got \(signature.count)"
            )
        }
        self.protectedHeaderBytes = protectedHeaderBytes
        self.protectedHeader = protectedHeader
        self.unprotectedHeader = unprotectedHeader
        self.payload = payload
        self.signature = signature
        self.algorithm = algorithm
    }

    /// The key identifier (label 4) from the protected header, else the unprotected one.
    public var keyID: [UInt8]? {
        let label = CBORValue.unsigned(HeaderLabel.keyID)
        return (CBORValue.map(protectedHeader)[label] ?? CBORValue.map(unprotectedHeader)[label])?.bytesValue
    }

    /// The message as tagged COSE_Sign1 CBOR, with the protected header and payload bytes exactly as held.
    public func encoded() throws -> [UInt8] {
        var writer = CBORWriter(reservingCapacity: protectedHeaderBytes.count + payload.count + signature.count + 64)
        writer.writeHead(major: 6, argument: Self.tag)
        writer.writeHead(major: 4, argument: 4)
        writer.writeByteString(protectedHeaderBytes)
        try writer.write(.map(unprotectedHeader))
        writer.writeByteString(payload)
        writer.writeByteString(signature)
        return writer.bytes
    }

    /// Checks the signature with `publicKey` over the protected header, `externalAAD` and payload as received.
    ///
    /// Throws `COSEError.Code.algorithmMismatch` when the key's curve is not the algorithm's and
    /// `COSEError.Code.invalidSignature` when the signature does not verify.
    public func verifySignature(with publicKey: ECPublicKey, externalAAD: [UInt8] = []) throws {
        guard publicKey.curve == algorithm.curve else {
            throw COSEError(
                .algorithmMismatch,
                "message is signed with \(algorithm.name) but the key is on \(publicKey.curve.rawValue)"
            )
        }
        let digest = algorithm.curve.defaultDigest
        let toBeSigned = Self.signatureStructureDigest(protectedHeaderBytes, externalAAD, payload, digest)
        let rawSignature = try ECDSASignature(rawRepresentation: signature, curve: algorithm.curve)
        guard publicKey.isValidSignature(rawSignature, forDigest: toBeSigned, digest: digest) else {
            throw COSEError(.invalidSignature, "\(algorithm.name) signature does not verify with the given key")
        }
    }

    // MARK: Internals

    private enum HeaderLabel {
        static let algorithm: UInt64 = 1
        static let critical: UInt64 = 2
        static let keyID: UInt64 = 4
    }

    /// The digest of `Sig_structure = ["Signature1", body_protected, external_aad, payload]` (RFC 9052 §4.4),
    /// hashed as it is encoded: the payload is never copied into a second buffer.
    private static func signatureStructureDigest(
        _ protectedHeaderBytes: [UInt8],
        _ externalAAD: [UInt8],
        _ payload: [UInt8],
        _ digest: DigestAlgorithm
    ) -> [UInt8] {
        var writer = CBORWriter(reservingCapacity: protectedHeaderBytes.count + externalAAD.count + 48)
        writer.writeHead(major: 4, argument: 4)
        writer.writeText("Signature1")
        writer.writeByteString(protectedHeaderBytes)
        writer.writeByteString(externalAAD)
        writer.writeHead(major: 2, argument: UInt64(payload.count))
        var hasher = DigestAlgorithm.Hasher(digest)
        hasher.update(writer.bytes)
        hasher.update(payload)
        return hasher.finalize()
    }

    /// The algorithm from the protected header, which is where RFC 9052 §3.1 requires it when a signature covers it.
    private static func algorithm(
        _ protectedHeader: [CBORMapEntry],
        _ unprotectedHeader: [CBORMapEntry]
    ) throws -> COSEAlgorithm {
        let protected = CBORValue.map(protectedHeader)
        if protected[.unsigned(HeaderLabel.critical)] != nil {
            throw COSEError(.malformed, "critical header parameters (label 2) are not supported")
        }
        guard let value = protected[.unsigned(HeaderLabel.algorithm)] else {
            if CBORValue.map(unprotectedHeader)[.unsigned(HeaderLabel.algorithm)] != nil {
                throw COSEError(
                    .unsupportedAlgorithm,
                    "algorithm (label 1) is only in the unprotected header; it must be protected"
                )
            }
            throw COSEError(.unsupportedAlgorithm, "protected header has no algorithm (label 1)")
        }
        guard let identifier = value.int64Value, let algorithm = COSEAlgorithm(rawValue: identifier) else {
            throw COSEError(.unsupportedAlgorithm, "algorithm \(value) is not supported (ES256 = -7, ES384 = -35)")
        }
        return algorithm
    }

    /// Rejects a label present in both buckets (RFC 9052 §3).
    private static func checkLabelsDisjoint(
        _ protectedHeader: [CBORMapEntry],
        _ unprotectedHeader: [CBORMapEntry]
    ) throws {
        for entry in unprotectedHeader where protectedHeader.contains(where: { $0.key == entry.key }) {
            throw COSEError(
                .malformed, "header label \(entry.key) appears in both the protected and unprotected header")
        }
    }

    private static func shape(of value: CBORValue) -> String {
        switch value {
        case .unsigned, .negative: "an integer"
        case .bytes: "a byte string"
        case .text: "a text string"
        case .array(let elements): "an array of \(elements.count) items"
        case .map: "a map"
        case .tagged(let tag, _): "tag \(tag)"
        case .simple, .bool, .null, .undefined: "the simple value \(value)"
        case .float: "a float"
        }
    }
}
