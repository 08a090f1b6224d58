import CloisterCrypto

/// A manifest with every input hashed: trusted files filled in, the executable hashed, the measurement computed.
public struct MeasuredManifest: Sendable, Hashable {
    /// The manifest, every trusted file carrying its SHA-384.
    public let manifest: EnclaveManifest
    /// `manifest.canonicalEncoding()`.
    public let canonicalEncoding: [UInt8]
    /// SHA-384 of the executable the entrypoint runs.
    public let executableSHA384: [UInt8]
    /// The enclave measurement.
    public let measurement: EnclaveMeasurement

    /// Measures `manifest` whose trusted files already carry their hashes, for an executable with `executableSHA384`.
    public init(manifest: EnclaveManifest, executableSHA384: [UInt8]) throws(ManifestError) {
        let canonical = try manifest.canonicalEncoding()
        self.manifest = manifest
        self.canonicalEncoding = canonical
        self.executableSHA384 = executableSHA384
        self.measurement = try EnclaveMeasurement(
            executableSHA384: executableSHA384, canonicalManifest: canonical, manifest)
    }

    /// Hashes the trusted files (resolved against `baseDirectory`) and the executable `locator` finds, then measures.
    ///
    /// A trusted file whose hash the manifest already pins must still have that hash.
    public init(
        manifest: EnclaveManifest, baseDirectory: String, locator: EnclaveExecutableLocator
    ) throws(ManifestError) {
        let filled = try manifest.fillingTrustedFileHashes(baseDirectory: baseDirectory)
        let executable = try locator.executablePath(for: manifest.entrypoint, baseDirectory: baseDirectory)
        try self.init(manifest: filled, executableSHA384: ManifestFile.sha384(executable))
    }

    /// Reads the TOML manifest at `path` and measures it with the files beside it; errors name the file.
    public init(tomlManifestAt path: String, locator: EnclaveExecutableLocator) throws(ManifestError) {
        let manifest = try EnclaveManifest(contentsOfFile: path)
        do {
            try self.init(manifest: manifest, baseDirectory: ManifestFile.directoryName(of: path), locator: locator)
        } catch {
            throw error.inFile(path)
        }
    }
}

extension EnclaveManifest {
    /// The manifest with every trusted file's SHA-384 computed from the file (resolved against `baseDirectory`).
    ///
    /// A hash already present must match the file, else the error names the file and both hashes.
    public func fillingTrustedFileHashes(baseDirectory: String) throws(ManifestError) -> EnclaveManifest {
        var filled = self
        for index in trustedFiles.indices {
            let file = trustedFiles[index]
            let path = Self.resolve(file.path, against: baseDirectory)
            let digest = try ManifestFile.sha384(path)
            if let pinned = file.sha384, pinned != digest {
                throw ManifestError(
                    .inputMismatch,
                    "trusted file '\(file.uri)' (\(path)) has SHA-384 \(hexEncoded(digest)), "
                        + "the manifest pins \(hexEncoded(pinned))",
                    keyPath: "trusted_files[\(index)].sha384")
            }
            filled.trustedFiles[index].sha384 = digest
        }
        return filled
    }
}
