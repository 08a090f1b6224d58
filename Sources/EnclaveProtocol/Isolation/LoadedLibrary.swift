/// A file the dynamic loader maps to run an enclave executable, where this host's loader finds it, and its SHA-384.
public struct LoadedLibrary: Sendable, Hashable {
    /// The path the loader opens, as `ld.so --list` prints it.
    public let path: String
    /// SHA-384 of the file's content.
    public let sha384: [UInt8]

    public init(path: String, sha384: [UInt8]) {
        self.path = path
        self.sha384 = sha384
    }
}
