import Attestation
import CloisterCrypto
public import EnclaveProtocol

/// What `cloister measure` reports for a manifest: its measurement, the signer when signed, the libraries the
/// executable loads and the trusted files.
///
/// Encodes (with any `Encoder`) as `{"measurement": hex, "signer": hex, "development_signer": bool,
/// "reference_measurements": [hex], "reference_signers": [hex], "libraries": [{"path": ..., "sha384": hex}],
/// "trusted_files": [{"uri": ..., "sha384": hex}]}`; the signer keys are absent for an unsigned manifest. The
/// reference values are what a policy lists to accept the enclave in every evidence kind (`SimulatedIdentity`: the
/// measurement and SGX's MRENCLAVE, the signer and SGX's MRSIGNER).
public struct ManifestMeasurementReport: Sendable, Hashable, Encodable {
    /// A library the loader maps and its hash.
    public struct LibraryHash: Sendable, Hashable, Encodable {
        /// The path the loader opens.
        public let path: String
        /// SHA-384 of the content, hexadecimal.
        public let sha384: String
    }

    /// A trusted file and its hash.
    public struct TrustedFileHash: Sendable, Hashable, Encodable {
        /// The URI as written in the manifest.
        public let uri: String
        /// SHA-384 of the content, hexadecimal.
        public let sha384: String
    }

    /// The enclave measurement, hexadecimal.
    public let measurement: String
    /// The signer identity, hexadecimal, for a signed manifest.
    public let signer: String?
    /// Whether the published development key signed it, for a signed manifest.
    public let developmentSigner: Bool?
    /// The measurement in every evidence kind's form, hexadecimal.
    public let referenceMeasurements: [String]
    /// The signer in every evidence kind's form that states one, hexadecimal, for a signed manifest.
    public let referenceSigners: [String]?
    /// The executable's library closure in the loader's order (empty when it is statically linked).
    public let libraries: [LibraryHash]
    /// The trusted files in URI order.
    public let trustedFiles: [TrustedFileHash]

    enum CodingKeys: String, CodingKey {
        case measurement, signer, libraries
        case developmentSigner = "development_signer"
        case referenceMeasurements = "reference_measurements", referenceSigners = "reference_signers"
        case trustedFiles = "trusted_files"
    }

    /// The report for a TOML manifest measured on the fly.
    public init(_ measured: MeasuredManifest) {
        self.init(measured.measurement, signer: nil, libraries: measured.libraries, manifest: measured.manifest)
    }

    /// The report for a verified signed manifest.
    public init(_ signed: SignedManifest) {
        self.init(signed.measurement, signer: signed.signer, libraries: signed.libraries, manifest: signed.manifest)
    }

    /// Measures the manifest at `path`: a signed manifest (`.cose`, verified) or a TOML manifest (hashed on the fly).
    public init(manifestAt path: String, locator: EnclaveExecutableLocator) throws(ManifestError) {
        if path.hasSuffix(".cose") {
            self.init(try SignedManifest(contentsOf: path))
        } else {
            self.init(try MeasuredManifest(tomlManifestAt: path, locator: locator))
        }
    }

    private init(
        _ measurement: EnclaveMeasurement, signer: SignerIdentity?, libraries: [LoadedLibrary],
        manifest: EnclaveManifest
    ) {
        self.measurement = measurement.hex
        self.signer = signer?.hex
        self.developmentSigner = signer?.isDevelopment
        self.referenceMeasurements = SimulatedIdentity.measurements(measurement.bytes)
        self.referenceSigners = signer.map { SimulatedIdentity.signers($0.bytes) }
        self.libraries = libraries.map { LibraryHash(path: $0.path, sha384: hexEncoded($0.sha384)) }
        self.trustedFiles = manifest.trustedFiles
            .sorted { EnclaveManifest.precedes($0.uri, $1.uri) }
            .map { TrustedFileHash(uri: $0.uri, sha384: hexEncoded($0.sha384 ?? [])) }
    }
}
