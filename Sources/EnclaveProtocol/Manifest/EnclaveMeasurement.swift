import CloisterCrypto

/// An enclave's identity (PCR0 / `mrenclave`): SHA-384 over its executable, the libraries the loader maps to run it, its
/// canonical manifest and its trusted files.
///
/// `SHA-384("cloister-measurement-v2" || SHA-384(executable) ||
/// uint32-be(number of libraries) || for each library in the loader's order: uint32-be(len(path)) || path (UTF-8) ||
/// SHA-384(library) || SHA-384(canonical manifest CBOR) ||
/// for each trusted file in byte-wise URI order: uint32-be(len(uri)) || uri (UTF-8) || SHA-384(file))`.
/// Named `EnclaveMeasurement` so it does not clash with Foundation's `Measurement`.
public struct EnclaveMeasurement: Sendable, Hashable, CustomStringConvertible {
    /// The domain-separation prefix of version 2 of the formula (version 1 measured no libraries).
    public static let domain = "cloister-measurement-v2"

    /// The 48 bytes.
    public let bytes: [UInt8]

    /// A measurement from its 48 bytes.
    public init(bytes: [UInt8]) throws(ManifestError) {
        guard bytes.count == 48 else {
            throw ManifestError(.malformedSignedManifest, "a measurement is 48 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// Computes the measurement of an executable whose library closure is `libraries`
    /// (`ExecutableImage.loadedLibraries()`); every trusted file in `manifest` must carry its hash.
    public init(
        executableSHA384: [UInt8], libraries: [LoadedLibrary], manifest: EnclaveManifest
    ) throws(ManifestError) {
        try self.init(
            executableSHA384: executableSHA384, libraries: libraries, canonicalManifest: manifest.canonicalEncoding(),
            manifest)
    }

    /// Computes the measurement from an already encoded canonical manifest of `manifest`.
    package init(
        executableSHA384: [UInt8], libraries: [LoadedLibrary], canonicalManifest: [UInt8], _ manifest: EnclaveManifest
    ) throws(ManifestError) {
        guard executableSHA384.count == 48 else {
            throw ManifestError(.invalidValue, "executable hash must be 48 bytes, got \(executableSHA384.count)")
        }
        var hasher = DigestAlgorithm.Hasher(.sha384)
        hasher.update(Self.domain)
        hasher.update(executableSHA384)
        hasher.update(try Self.length(libraries.count, of: "the library list"))
        for library in libraries {
            guard library.sha384.count == 48 else {
                throw ManifestError(.invalidValue, "hash of library '\(library.path)' must be 48 bytes")
            }
            hasher.update(try Self.length(library.path.utf8.count, of: "library path '\(library.path)'"))
            hasher.update(library.path)
            hasher.update(library.sha384)
        }
        hasher.update(DigestAlgorithm.sha384.hash(canonicalManifest))
        for file in manifest.trustedFiles.sorted(by: { EnclaveManifest.precedes($0.uri, $1.uri) }) {
            guard let digest = file.sha384 else {
                throw ManifestError(.invalidValue, "hash of trusted file '\(file.uri)' is not filled in")
            }
            hasher.update(try Self.length(file.uri.utf8.count, of: "trusted file URI '\(file.uri)'"))
            hasher.update(file.uri)
            hasher.update(digest)
        }
        self.bytes = hasher.finalize()
    }

    /// `count` as 4 big-endian bytes.
    private static func length(_ count: Int, of what: String) throws(ManifestError) -> [UInt8] {
        guard let value = UInt32(exactly: count) else {
            throw ManifestError(.invalidValue, "\(what) is too long to measure (\(count))")
        }
        return (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
    }

    /// Lower-case hexadecimal.
    public var hex: String { hexEncoded(bytes) }
    public var description: String { hex }
}
