public import EnclaveProtocol

/// A trusted file as the enclave receives it: a sealed copy made at launch, hashed through the descriptor the enclave
/// reads, so replacing the file on disk after launch changes nothing the enclave sees (DESIGN.md invariant 7).
public struct TrustedFileCopy: Sendable {
    /// The URI as the manifest writes it.
    public let uri: String
    /// The path it was copied from, resolved against the signed manifest's directory.
    public let path: String
    /// SHA-384 of the copy.
    public var sha384: [UInt8] { file.sha384 }
    /// The sealed copy.
    package let file: SealedFile

    /// Copies the manifest's trusted file `file` (at `trusted_files[index]`), resolved against `baseDirectory`.
    init(_ file: EnclaveManifest.TrustedFile, index: Int, baseDirectory: String) throws(ManifestError) {
        let path = EnclaveManifest.resolve(file.path, against: baseDirectory)
        do {
            self.file = try SealedFile(path: path, executable: false, failure: .systemCall)
        } catch {
            let why = (error as? LaunchError)?.reason ?? "\(error)"
            throw ManifestError(
                .io,
                "trusted file '\(file.uri)', resolved against \(baseDirectory) (the signed manifest's directory): "
                    + "\(why); keep the signed manifest beside the files it names, or sign its TOML again where "
                    + "those files are (cloister sign NAME.toml --key KEY)",
                keyPath: "trusted_files[\(index)].uri", path: path)
        }
        self.uri = file.uri
        self.path = path
    }
}
