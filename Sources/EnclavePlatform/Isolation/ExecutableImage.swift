public import EnclaveProtocol

/// An executable copied into sealed memory: the bytes measured are exactly the bytes `EnclaveProcess` executes.
///
/// The file is copied into a `memfd` sealed against writes, shrinking and growing (and against further sealing),
/// hashed by reading that memfd back, and later executed through the same descriptor with `execveat(AT_EMPTY_PATH)`.
/// Changing the file on disk after the image was made changes neither what runs nor the measurement. The memfd keeps
/// the file's execute permission bits, so a file that is not executable fails to launch as it would from disk.
/// The image must be an ELF executable: an interpreter script (`#!`) cannot be run from a close-on-exec memfd.
public final class ExecutableImage: Sendable {
    /// The sealed copy.
    private let file: SealedFile

    /// The path the image was read from (informational: it is never opened again).
    public var path: String { file.path }
    /// SHA-384 of the sealed bytes.
    public var sha384: [UInt8] { file.sha384 }
    /// Size of the image in bytes.
    public var size: Int { file.size }

    /// The sealed memfd.
    var descriptor: FileDescriptor { file.descriptor }

    /// Copies, seals and measures the regular file at `path` (symbolic links are followed).
    public init(path: String) throws {
        file = try SealedFile(path: path, executable: true, failure: .invalidExecutable)
    }
}
