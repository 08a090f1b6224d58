import CloisterCBOR
public import CloisterCrypto

/// A manifest signed by its author: a COSE_Sign1 (ES256 for P-256 keys, ES384 for P-384) over the canonical manifest,
/// the executable's hash and the measurement, carrying the signer's public key.
///
/// Payload: the deterministic CBOR map {`format`: "cloister-signed-manifest-v1", `manifest`: canonical manifest
/// bytes, `executable_sha384`: 48 bytes, `measurement`: 48 bytes}. Unprotected header: the signer's
/// SubjectPublicKeyInfo DER under `signerKeyHeaderLabel` (-65537) and kid (4) = SHA-256 of that DER.
/// Relative paths in the manifest resolve against `baseDirectory`, the directory the signed manifest was read from.
public struct SignedManifest: Sendable {
    /// The private-use COSE header label that carries the signer's SubjectPublicKeyInfo DER.
    public static let signerKeyHeaderLabel: Int64 = -65537
    /// The payload's `format` value.
    public static let payloadFormat = "cloister-signed-manifest-v1"

    /// The manifest, every trusted file carrying its hash.
    public let manifest: EnclaveManifest
    /// The signed canonical manifest bytes.
    public let canonicalManifest: [UInt8]
    /// The executable's SHA-384 at signing time.
    public let executableSHA384: [UInt8]
    /// The enclave measurement (PCR0).
    public let measurement: EnclaveMeasurement
    /// The signer's public key.
    public let signerPublicKey: ECPublicKey
    /// The signer identity (PCR8): SHA-384 of the signer's SubjectPublicKeyInfo DER.
    public let signer: SignerIdentity
    /// The COSE_Sign1 message as bytes (what `write(to:)` stores).
    public let encoded: [UInt8]
    /// The directory relative paths resolve against, when the signed manifest came from a file.
    public let baseDirectory: String?

    /// Whether the published development key (`Keys/dev-signer.pem`) signed this manifest.
    public var isDevelopmentSigner: Bool { signer.isDevelopment }

    /// Signs `measured` with `key`.
    public init(signing measured: MeasuredManifest, with key: ECPrivateKey) throws {
        let spki = key.publicKey.derRepresentation
        let payload = try Self.payload(
            canonicalManifest: measured.canonicalEncoding, executableSHA384: measured.executableSHA384,
            measurement: measured.measurement)
        let message = try COSESign1(
            signing: payload, with: key,
            unprotectedHeader: [CBORMapEntry(CBORValue(Self.signerKeyHeaderLabel), .bytes(spki))],
            keyID: DigestAlgorithm.sha256.hash(spki))
        self.manifest = measured.manifest
        self.canonicalManifest = measured.canonicalEncoding
        self.executableSHA384 = measured.executableSHA384
        self.measurement = measured.measurement
        self.signerPublicKey = key.publicKey
        self.signer = SignerIdentity(publicKey: key.publicKey)
        self.encoded = try message.encoded()
        self.baseDirectory = nil
    }

    /// Verifies and decodes a signed manifest: the signature with the embedded key, the key id, the canonical
    /// manifest (its values too) and that the measurement follows from the signed parts.
    public init(encoded: [UInt8], baseDirectory: String? = nil) throws(ManifestError) {
        let message: COSESign1
        do {
            message = try COSESign1(encoded: encoded)
        } catch {
            throw ManifestError(.malformedSignedManifest, "not a COSE_Sign1 message: \(error)")
        }
        let unprotected = CBORValue.map(message.unprotectedHeader)
        guard let spki = unprotected[CBORValue(Self.signerKeyHeaderLabel)]?.bytesValue else {
            throw ManifestError(
                .malformedSignedManifest,
                "no signer key (SubjectPublicKeyInfo under header label \(Self.signerKeyHeaderLabel))")
        }
        let publicKey: ECPublicKey
        do {
            publicKey = try ECPublicKey(derRepresentation: spki)
        } catch {
            throw ManifestError(.invalidSignature, "embedded signer key is not a P-256 or P-384 key: \(error)")
        }
        guard message.keyID == DigestAlgorithm.sha256.hash(spki) else {
            throw ManifestError(.invalidSignature, "key id is not the SHA-256 of the embedded signer key")
        }
        do {
            try message.verifySignature(with: publicKey)
        } catch {
            throw ManifestError(.invalidSignature, "signature does not verify with the embedded signer key: \(error)")
        }
        let fields = try Self.payloadFields(message.payload)
        let manifest = try EnclaveManifest(canonicalEncoding: fields.canonicalManifest)
        let measured = try MeasuredManifest(manifest: manifest, executableSHA384: fields.executableSHA384)
        guard measured.measurement.bytes == fields.measurement else {
            throw ManifestError(
                .malformedSignedManifest, "signed measurement does not follow from the signed manifest and hashes")
        }
        self.manifest = manifest
        self.canonicalManifest = fields.canonicalManifest
        self.executableSHA384 = fields.executableSHA384
        self.measurement = measured.measurement
        self.signerPublicKey = publicKey
        self.signer = SignerIdentity(publicKey: publicKey)
        self.encoded = encoded
        self.baseDirectory = baseDirectory
    }

    /// Reads and verifies the signed manifest at `path`; relative paths in it resolve against its directory.
    public init(contentsOf path: String) throws(ManifestError) {
        let bytes = try ManifestFile.read(path)
        do {
            try self.init(encoded: bytes, baseDirectory: ManifestFile.directoryName(of: path))
        } catch {
            throw error.inFile(path)
        }
    }

    /// Writes the signed manifest to `path` atomically (no partial file on failure).
    public func write(to path: String) throws(ManifestError) {
        try ManifestFile.writeAtomically(encoded, to: path)
    }

    /// Re-checks at launch that the executable and the trusted files still have the hashes that were signed, and
    /// returns the trusted files as sealed copies: what was hashed is what the enclave will read.
    ///
    /// `executable` is the sealed image that will run, measured through the descriptor it runs from; relative
    /// trusted-file paths resolve against `baseDirectory`, by default the signed manifest's own directory. The error
    /// names the file that differs or cannot be read, and where it was looked for.
    @discardableResult
    public func verifyInputs(
        executable: ExecutableImage, baseDirectory: String? = nil
    ) throws(ManifestError) -> [TrustedFileCopy] {
        guard let directory = baseDirectory ?? self.baseDirectory else {
            throw ManifestError(.io, "no directory to resolve the manifest's relative paths against")
        }
        guard executable.sha384 == executableSHA384 else {
            throw ManifestError(
                .inputMismatch,
                "executable changed since signing: SHA-384 \(hexEncoded(executable.sha384)), "
                    + "signed \(hexEncoded(executableSHA384))",
                path: executable.path)
        }
        var copies: [TrustedFileCopy] = []
        for (index, file) in manifest.trustedFiles.enumerated() {
            let copy = try TrustedFileCopy(file, index: index, baseDirectory: directory)
            guard copy.sha384 == file.sha384 else {
                throw ManifestError(
                    .inputMismatch,
                    "trusted file '\(file.uri)' changed since signing: SHA-384 \(hexEncoded(copy.sha384)), "
                        + "signed \(hexEncoded(file.sha384 ?? []))",
                    path: copy.path)
            }
            copies.append(copy)
        }
        return copies
    }

    /// Where `cloister sign` writes by default: beside the TOML, `NAME.toml` (or `NAME.manifest.toml`) becoming
    /// `NAME.manifest.cose`.
    public static func defaultOutputPath(forManifestAt path: String) -> String {
        var stem = path
        for suffix in [".toml", ".manifest"] where stem.hasSuffix(suffix) {
            stem.removeLast(suffix.count)
        }
        return stem + ".manifest.cose"
    }

    // MARK: Payload

    private static func payload(
        canonicalManifest: [UInt8], executableSHA384: [UInt8], measurement: EnclaveMeasurement
    ) throws -> [UInt8] {
        try CBORValue.map([
            CBORMapEntry("format", .text(payloadFormat)),
            CBORMapEntry("manifest", .bytes(canonicalManifest)),
            CBORMapEntry("executable_sha384", .bytes(executableSHA384)),
            CBORMapEntry("measurement", .bytes(measurement.bytes)),
        ]).encoded()
    }

    private static func payloadFields(
        _ payload: [UInt8]
    ) throws(ManifestError) -> (canonicalManifest: [UInt8], executableSHA384: [UInt8], measurement: [UInt8]) {
        let malformed = ManifestError(
            .malformedSignedManifest,
            "payload is not a \(payloadFormat) map {format, manifest, executable_sha384, measurement}")
        guard let value = try? CBORDecoder().decode(payload), let entries = value.mapValue, entries.count == 4,
            value["format"]?.textValue == payloadFormat,
            let canonical = value["manifest"]?.bytesValue,
            let executable = value["executable_sha384"]?.bytesValue, executable.count == 48,
            let measurement = value["measurement"]?.bytesValue, measurement.count == 48
        else { throw malformed }
        return (canonical, executable, measurement)
    }
}

extension SignedManifest {
    /// Reads the TOML manifest at `path`, hashes its trusted files and executable, and signs it with `key`; with a
    /// `boundary`, first refuses a manifest whose paths reach that platform home (launch refuses it anyway).
    public static func sign(
        manifestAt path: String, with key: ECPrivateKey, locator: EnclaveExecutableLocator,
        boundary: HomeBoundary? = nil
    ) throws -> SignedManifest {
        let measured = try MeasuredManifest(tomlManifestAt: path, locator: locator)
        if let boundary {
            do {
                try measured.manifest.checkUnreachable(boundary, baseDirectory: ManifestFile.directoryName(of: path))
            } catch {
                throw error.inFile(path)
            }
        }
        return try SignedManifest(signing: measured, with: key)
    }
}
