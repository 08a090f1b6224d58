internal import COpenSSL

/// An ECDSA signature, held as the fixed-width `r || s` form that COSE and JOSE use.
public struct ECDSASignature: Sendable, Hashable {
    /// `r || s`, each left-padded to the curve's coordinate length.
    public let rawRepresentation: [UInt8]

    /// Wraps a raw `r || s` signature; its length must be twice the curve's coordinate length.
    public init(rawRepresentation: some ContiguousBytesView, curve: ECCurve) throws {
        let bytes = rawRepresentation.withBytes { Array($0) }
        guard bytes.count == 2 * curve.coordinateByteCount else {
            throw CryptoError(
                .malformedInput,
                "\(curve.rawValue) signature must be \(2 * curve.coordinateByteCount) bytes r||s, got \(bytes.count)"
            )
        }
        self.rawRepresentation = bytes
    }

    /// Parses a DER `ECDSA-Sig-Value` (strict DER only) into raw form for `curve`.
    public init(derRepresentation: some ContiguousBytesView, curve: ECCurve) throws {
        let width = curve.coordinateByteCount
        var raw = [UInt8](repeating: 0, count: 2 * width)
        try derRepresentation.withBytes { der in
            var reader = SignatureDERReader(der)
            let sequenceLength = try reader.readHeader(tag: 0x30, what: "SEQUENCE")
            guard sequenceLength == reader.remaining else {
                throw CryptoError(
                    .malformedInput,
                    "ECDSA signature DER SEQUENCE holds \(sequenceLength) bytes, but \(reader.remaining) follow")
            }
            try raw.withUnsafeMutableBytes { output in
                try reader.readInteger(into: UnsafeMutableRawBufferPointer(rebasing: output[..<width]), curve: curve)
                try reader.readInteger(into: UnsafeMutableRawBufferPointer(rebasing: output[width...]), curve: curve)
            }
            guard reader.remaining == 0 else {
                throw CryptoError(.malformedInput, "ECDSA signature DER has bytes after s")
            }
        }
        self.rawRepresentation = raw
    }

    /// The DER `ECDSA-Sig-Value` (what X.509 and OpenSSL use): two minimal non-negative INTEGERs in a SEQUENCE.
    public var derRepresentation: [UInt8] {
        let half = rawRepresentation.count / 2
        let integers = [rawRepresentation[..<half], rawRepresentation[half...]].map { value -> [UInt8] in
            let magnitude = value.drop { $0 == 0 }
            let content = magnitude.first.map { $0 & 0x80 != 0 ? [0] + magnitude : Array(magnitude) } ?? [0]
            return [0x02] + Self.derLength(content.count) + content
        }
        let body = integers[0] + integers[1]
        return [0x30] + Self.derLength(body.count) + body
    }

    /// A DER length: short form below 128, else the fewest big-endian bytes after 0x80 | count.
    private static func derLength(_ length: Int) -> [UInt8] {
        guard length >= 0x80 else { return [UInt8(length)] }
        let bytes = withUnsafeBytes(of: UInt64(length).bigEndian) { Array($0.drop { $0 == 0 }) }
        return [0x80 | UInt8(bytes.count)] + bytes
    }
}

/// Reads the two parts of a DER `ECDSA-Sig-Value`, refusing every encoding DER does not allow.
private struct SignatureDERReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    /// Reads a tag and a definite, minimally encoded length; returns the length, checked against what remains.
    mutating func readHeader(tag: UInt8, what: String) throws -> Int {
        guard remaining >= 2, bytes[offset] == tag else {
            throw CryptoError(.malformedInput, "ECDSA signature DER: expected \(what) at byte \(offset)")
        }
        var length = Int(bytes[offset + 1])
        offset += 2
        if length & 0x80 != 0 {
            let count = length & 0x7f
            guard count >= 1, count <= 2, remaining >= count else {
                throw CryptoError(.malformedInput, "ECDSA signature DER: bad length of \(what) at byte \(offset - 1)")
            }
            length = bytes[offset..<(offset + count)].reduce(0) { $0 << 8 | Int($1) }
            guard bytes[offset] != 0, length >= 0x80 else {
                throw CryptoError(.malformedInput, "ECDSA signature DER: \(what) length is not minimal (BER, not DER)")
            }
            offset += count
        }
        guard length <= remaining else {
            throw CryptoError(
                .malformedInput, "ECDSA signature DER: \(what) claims \(length) bytes, \(remaining) remain")
        }
        return length
    }

    /// Reads a minimal non-negative INTEGER that fits `output`, right-aligned into it.
    mutating func readInteger(into output: UnsafeMutableRawBufferPointer, curve: ECCurve) throws {
        let length = try readHeader(tag: 0x02, what: "INTEGER")
        guard length >= 1 else { throw CryptoError(.malformedInput, "ECDSA signature DER: empty INTEGER") }
        var value = bytes[offset..<(offset + length)]
        offset += length
        guard value.first! & 0x80 == 0 else {
            throw CryptoError(.malformedInput, "ECDSA signature DER: negative INTEGER")
        }
        if value.count > 1 && value.first == 0 {
            guard value[value.startIndex + 1] & 0x80 != 0 else {
                throw CryptoError(.malformedInput, "ECDSA signature DER: INTEGER is not minimal (BER, not DER)")
            }
            value = value.dropFirst()
        }
        guard value.count <= output.count else {
            throw CryptoError(.malformedInput, "ECDSA signature integers are too large for \(curve.rawValue)")
        }
        UnsafeMutableRawBufferPointer(rebasing: output[(output.count - value.count)...]).copyMemory(
            from: UnsafeRawBufferPointer(rebasing: value))
    }
}

extension ECPrivateKey {
    /// Signs `message` with ECDSA, hashing it with `digest` (by default the curve's: SHA-256 for P-256, SHA-384 for P-384).
    public func signature(for message: some ContiguousBytesView, digest: DigestAlgorithm? = nil) throws
        -> ECDSASignature
    {
        let digest = digest ?? curve.defaultDigest
        return try signature(forDigest: digest.hash(message), digest: digest)
    }

    /// Signs a message digest already computed with `digest` (its length must be the digest's).
    public func signature(forDigest hash: [UInt8], digest: DigestAlgorithm) throws -> ECDSASignature {
        guard hash.count == digest.outputByteCount else {
            throw CryptoError(
                .invalidParameter,
                "\(digest.rawValue) digest must be \(digest.outputByteCount) bytes, got \(hash.count)")
        }
        var der = [UInt8](repeating: 0, count: 2 * curve.coordinateByteCount + 16)
        var length = der.count
        try key.withContext(.sign(digest)) { context in
            try requireOne(EVP_PKEY_sign(context, &der, &length, hash, hash.count), "EVP_PKEY_sign")
        }
        return try ECDSASignature(derRepresentation: der[..<length], curve: curve)
    }
}

extension ECPublicKey {
    /// Whether `signature` is a valid ECDSA signature over `message` (hashed with `digest`, by default the curve's).
    /// Returns false for any invalid signature, including one whose length does not fit the curve.
    public func isValidSignature(
        _ signature: ECDSASignature,
        for message: some ContiguousBytesView,
        digest: DigestAlgorithm? = nil
    ) -> Bool {
        let digest = digest ?? curve.defaultDigest
        return isValidSignature(signature, forDigest: digest.hash(message), digest: digest)
    }

    /// Whether `signature` is a valid ECDSA signature over a message whose `digest` hash is `hash`.
    public func isValidSignature(_ signature: ECDSASignature, forDigest hash: [UInt8], digest: DigestAlgorithm) -> Bool
    {
        guard signature.rawRepresentation.count == 2 * curve.coordinateByteCount,
            hash.count == digest.outputByteCount
        else { return false }
        let der = signature.derRepresentation
        let status = try? key.withContext(.verify(digest)) { context in
            EVP_PKEY_verify(context, der, der.count, hash, hash.count)
        }
        ERR_clear_error()
        return status == 1
    }
}
