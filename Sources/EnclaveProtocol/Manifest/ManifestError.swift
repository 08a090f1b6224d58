public import CloisterErrors

/// Why a manifest or signed manifest was rejected: a stable `code` for programs, a `reason` for people that names
/// the failing key or check, the key path (`enclave.size`, `trusted_files[0].uri`) and the file involved.
public struct ManifestError: CodedError {
    public typealias Code = ErrorCode<ManifestError>

    /// What went wrong, stably.
    public let code: Code
    /// What went wrong, for a person; it starts with the key path when there is one.
    public let reason: String
    /// The manifest key the error is about, dotted as in TOML (`enclave.regions.scratch`), when there is one.
    public let keyPath: String?
    /// The file being read or written, when there is one.
    public private(set) var path: String?

    /// An error about `keyPath` (its reason is prefixed with the key path).
    public init(_ code: Code, _ reason: String, keyPath: String? = nil, path: String? = nil) {
        self.code = code
        self.keyPath = keyPath
        self.reason = keyPath.map { "\($0): \(reason)" } ?? reason
        self.path = path
    }

    /// "`path`: `reason`", the form the CLI prints.
    public var description: String {
        path.map { "\($0): \(reason)" } ?? reason
    }

    /// The same error, attributed to the file at `path` unless it already names one.
    public func inFile(_ path: String) -> ManifestError {
        var copy = self
        copy.path = self.path ?? path
        return copy
    }
}

extension ErrorCode where Domain == ManifestError {
    /// The file is not valid TOML (or not valid CBOR, for a signed manifest).
    public static let syntax = Self("manifest-syntax")
    /// A key the manifest format does not define.
    public static let unknownKey = Self("manifest-unknown-key")
    /// A required key is absent.
    public static let missingKey = Self("manifest-missing-key")
    /// A value has the wrong TOML type.
    public static let wrongType = Self("manifest-wrong-type")
    /// A value has the right type but is out of range or malformed.
    public static let invalidValue = Self("manifest-invalid-value")
    /// A file (manifest, trusted file, executable, key) could not be read or written.
    public static let io = Self("manifest-io")
    /// A trusted file or the executable does not have the hash the manifest pins.
    public static let inputMismatch = Self("manifest-input-mismatch")
    /// A signed manifest's signature, key or payload does not verify.
    public static let invalidSignature = Self("manifest-invalid-signature")
    /// A signed manifest is not the COSE_Sign1 / payload structure Cloister writes.
    public static let malformedSignedManifest = Self("manifest-malformed-signed")
    /// The enclave executable for a `builtin:` entrypoint could not be found.
    public static let executableNotFound = Self("manifest-executable-not-found")
}
