public import Attestation
import CloisterCBOR
public import CloisterCrypto
public import EnclaveProtocol
import Glibc

/// A manifest signed by its author: a COSE_Sign1 (ES256 for P-256 keys, ES384 for P-384) over the canonical manifest,
/// the executable's hash, the hashes of the libraries the loader maps to run it, and the measurement, carrying the
/// signer's public key.
///
/// Payload: the deterministic CBOR map {`format`: "cloister-signed-manifest-v2", `manifest`: canonical manifest
/// bytes, `executable_sha384`: 48 bytes, `libraries`: array of {`path`: text, `sha384`: 48 bytes} in the loader's
/// order, `measurement`: 48 bytes}. Unprotected header: the signer's SubjectPublicKeyInfo DER under
/// `signerKeyHeaderLabel` (-65537) and kid (4) = SHA-256 of that DER.
/// Relative paths in the manifest resolve against `baseDirectory`, the directory the signed manifest was read from.
public struct SignedManifest: Sendable {
    /// The private-use COSE header label that carries the signer's SubjectPublicKeyInfo DER.
    public static let signerKeyHeaderLabel: Int64 = -65537
    /// The payload's `format` value.
    public static let payloadFormat = "cloister-signed-manifest-v2"
    /// The most libraries a signed manifest may list.
    public static let maximumLibraryCount = 1024

    /// The manifest, every trusted file carrying its hash.
    public let manifest: EnclaveManifest
    /// The signed canonical manifest bytes.
    public let canonicalManifest: [UInt8]
    /// The executable's SHA-384 at signing time.
    public let executableSHA384: [UInt8]
    /// The executable's library closure at signing time, in the loader's order.
    public let libraries: [LoadedLibrary]
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
            libraries: measured.libraries, measurement: measured.measurement)
        let message = try COSESign1(
            signing: payload, with: key,
            unprotectedHeader: [CBORMapEntry(CBORValue(Self.signerKeyHeaderLabel), .bytes(spki))],
            keyID: DigestAlgorithm.sha256.hash(spki))
        self.manifest = measured.manifest
        self.canonicalManifest = measured.canonicalEncoding
        self.executableSHA384 = measured.executableSHA384
        self.libraries = measured.libraries
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
        let measured = try MeasuredManifest(
            manifest: manifest, executableSHA384: fields.executableSHA384, libraries: fields.libraries)
        guard measured.measurement.bytes == fields.measurement else {
            throw ManifestError(
                .malformedSignedManifest, "signed measurement does not follow from the signed manifest and hashes")
        }
        self.manifest = manifest
        self.canonicalManifest = fields.canonicalManifest
        self.executableSHA384 = fields.executableSHA384
        self.libraries = fields.libraries
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

    /// Re-checks at launch that the executable, the libraries it loads and the trusted files still have the hashes
    /// that were signed, and returns the libraries and the trusted files as checked: the trusted files as sealed
    /// copies, so what was hashed is what the enclave will read.
    ///
    /// `executable` is the sealed image that will run, measured through the descriptor it runs from, and its library
    /// closure is resolved again by this host's loader (`ExecutableImage.loadedLibraries()`); relative trusted-file
    /// paths resolve against `baseDirectory`, by default the signed manifest's own directory. The error names the file
    /// that differs or cannot be read (a library by the path the loader opens), and where it was looked for.
    @discardableResult
    public func verifyInputs(
        executable: ExecutableImage, baseDirectory: String? = nil
    ) throws(ManifestError) -> VerifiedInputs {
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
        let loaded = try executable.loadedLibraries()
        try checkLibraries(loaded, of: executable.path)
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
        return VerifiedInputs(libraries: loaded, trustedFiles: copies)
    }

    /// Refuses a library closure that differs from the signed one: a library whose content changed, one loaded now but
    /// not at signing or the reverse, or the same libraries in another order (which changes what a symbol binds to).
    private func checkLibraries(_ loaded: [LoadedLibrary], of executable: String) throws(ManifestError) {
        let signedHashes = Dictionary(libraries.map { ($0.path, $0.sha384) }) { first, _ in first }
        let again = "; sign the manifest again where the libraries it runs with are installed"
        for library in loaded {
            guard let signedHash = signedHashes[library.path] else {
                throw ManifestError(
                    .inputMismatch,
                    "'\(executable)' now loads the library '\(library.path)', which was not measured at signing"
                        + again,
                    path: library.path)
            }
            guard signedHash == library.sha384 else {
                throw ManifestError(
                    .inputMismatch,
                    "library '\(library.path)' changed since signing: SHA-384 \(hexEncoded(library.sha384)), signed "
                        + "\(hexEncoded(signedHash))" + again,
                    path: library.path)
            }
        }
        let loadedPaths = Set(loaded.map(\.path))
        if let missing = libraries.first(where: { !loadedPaths.contains($0.path) }) {
            throw ManifestError(
                .inputMismatch,
                "'\(executable)' no longer loads the library '\(missing.path)', which was measured at signing" + again,
                path: missing.path)
        }
        guard loaded.map(\.path) == libraries.map(\.path) else {
            throw ManifestError(
                .inputMismatch,
                "'\(executable)' loads its libraries in another order than at signing: "
                    + "\(loaded.map(\.path).joined(separator: ", ")), signed "
                    + "\(libraries.map(\.path).joined(separator: ", "))" + again,
                path: executable)
        }
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
        canonicalManifest: [UInt8], executableSHA384: [UInt8], libraries: [LoadedLibrary],
        measurement: EnclaveMeasurement
    ) throws -> [UInt8] {
        try CBORValue.map([
            CBORMapEntry("format", .text(payloadFormat)),
            CBORMapEntry("manifest", .bytes(canonicalManifest)),
            CBORMapEntry("executable_sha384", .bytes(executableSHA384)),
            CBORMapEntry(
                "libraries",
                .array(
                    libraries.map {
                        .map([CBORMapEntry("path", .text($0.path)), CBORMapEntry("sha384", .bytes($0.sha384))])
                    })),
            CBORMapEntry("measurement", .bytes(measurement.bytes)),
        ]).encoded()
    }

    private static func payloadFields(
        _ payload: [UInt8]
    ) throws(ManifestError) -> (
        canonicalManifest: [UInt8], executableSHA384: [UInt8], libraries: [LoadedLibrary], measurement: [UInt8]
    ) {
        let value = try? CBORDecoder().decode(payload)
        if let format = value?["format"]?.textValue, format != payloadFormat {
            throw ManifestError(
                .malformedSignedManifest,
                "payload format '\(format)' is not \(payloadFormat); a manifest signed by an earlier Cloister does "
                    + "not measure the libraries its executable loads: sign it again")
        }
        let malformed = ManifestError(
            .malformedSignedManifest,
            "payload is not a \(payloadFormat) map {format, manifest, executable_sha384, libraries, measurement}")
        guard let value, let entries = value.mapValue, entries.count == 5,
            let canonical = value["manifest"]?.bytesValue,
            let executable = value["executable_sha384"]?.bytesValue, executable.count == 48,
            let libraryList = value["libraries"]?.arrayValue,
            let measurement = value["measurement"]?.bytesValue, measurement.count == 48
        else { throw malformed }
        return (canonical, executable, try libraries(libraryList), measurement)
    }

    /// The payload's `libraries`: at most `maximumLibraryCount` maps {path, sha384}, each path absolute, at most
    /// `PATH_MAX` bytes and listed once.
    private static func libraries(_ list: [CBORValue]) throws(ManifestError) -> [LoadedLibrary] {
        guard list.count <= maximumLibraryCount else {
            throw ManifestError(
                .malformedSignedManifest,
                "payload lists \(list.count) libraries, more than the \(maximumLibraryCount) a manifest may")
        }
        var libraries: [LoadedLibrary] = []
        for (index, entry) in list.enumerated() {
            guard let fields = entry.mapValue, fields.count == 2, let path = entry["path"]?.textValue,
                path.hasPrefix("/"), path.utf8.count <= Int(PATH_MAX),
                let sha384 = entry["sha384"]?.bytesValue, sha384.count == 48
            else {
                throw ManifestError(
                    .malformedSignedManifest,
                    "payload libraries[\(index)] is not a map {path: an absolute path, sha384: 48 bytes}")
            }
            guard !libraries.contains(where: { $0.path == path }) else {
                throw ManifestError(.malformedSignedManifest, "payload lists the library '\(path)' twice")
            }
            libraries.append(LoadedLibrary(path: path, sha384: sha384))
        }
        return libraries
    }
}

/// What `SignedManifest.verifyInputs` checked at launch.
public struct VerifiedInputs: Sendable {
    /// The executable's library closure, each library's hash as signed: the files the loader may map.
    public let libraries: [LoadedLibrary]
    /// The trusted files as sealed copies, hashed as signed.
    public let trustedFiles: [TrustedFileCopy]
}
