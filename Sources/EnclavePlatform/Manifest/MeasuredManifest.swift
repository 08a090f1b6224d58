import CloisterCrypto
public import EnclaveProtocol

/// A manifest with every input hashed: trusted files filled in, the executable and the libraries it loads hashed, the
/// measurement computed.
public struct MeasuredManifest: Sendable, Hashable {
    /// The manifest, every trusted file carrying its SHA-384.
    public let manifest: EnclaveManifest
    /// `manifest.canonicalEncoding()`.
    public let canonicalEncoding: [UInt8]
    /// SHA-384 of the executable the entrypoint runs.
    public let executableSHA384: [UInt8]
    /// The executable's library closure (`ExecutableImage.loadedLibraries()`): empty when it is statically linked.
    public let libraries: [LoadedLibrary]
    /// The enclave measurement.
    public let measurement: EnclaveMeasurement

    /// Measures `manifest` whose trusted files already carry their hashes, for an executable with `executableSHA384`
    /// that loads `libraries`.
    public init(
        manifest: EnclaveManifest, executableSHA384: [UInt8], libraries: [LoadedLibrary]
    ) throws(ManifestError) {
        let canonical = try manifest.canonicalEncoding()
        self.manifest = manifest
        self.canonicalEncoding = canonical
        self.executableSHA384 = executableSHA384
        self.libraries = libraries
        self.measurement = try EnclaveMeasurement(
            executableSHA384: executableSHA384, libraries: libraries, canonicalManifest: canonical, manifest)
    }

    /// Hashes the trusted files (resolved against `baseDirectory`), and the executable `locator` finds and its library
    /// closure as this host's loader resolves it, then measures.
    ///
    /// A trusted file whose hash the manifest already pins must still have that hash.
    public init(
        manifest: EnclaveManifest, baseDirectory: String, locator: EnclaveExecutableLocator
    ) throws(ManifestError) {
        let filled = try manifest.fillingTrustedFileHashes(baseDirectory: baseDirectory)
        let executable = try locator.executablePath(for: manifest.entrypoint, baseDirectory: baseDirectory)
        let image: ExecutableImage
        do {
            image = try ExecutableImage(path: executable)
        } catch {
            throw ManifestError(
                .io, (error as? LaunchError)?.reason ?? "\(error)", keyPath: "loader.entrypoint", path: executable)
        }
        try self.init(manifest: filled, executableSHA384: image.sha384, libraries: image.loadedLibraries())
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
