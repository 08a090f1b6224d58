internal import CEnclaveSandbox
import CloisterCrypto
import Glibc

/// An executable copied into sealed memory: the bytes measured are exactly the bytes `EnclaveProcess` executes.
///
/// The file is copied into a `memfd` sealed against writes, shrinking and growing (and against further sealing),
/// hashed by reading that memfd back, and later executed through the same descriptor with `execveat(AT_EMPTY_PATH)`.
/// Changing the file on disk after the image was made changes neither what runs nor the measurement. The memfd keeps
/// the file's execute permission bits, so a file that is not executable fails to launch as it would from disk.
/// The image must be an ELF executable: an interpreter script (`#!`) cannot be run from a close-on-exec memfd.
public final class ExecutableImage: Sendable {
    /// The path the image was read from (informational: it is never opened again).
    public let path: String
    /// SHA-384 of the sealed bytes.
    public let sha384: [UInt8]
    /// Size of the image in bytes.
    public let size: Int

    /// The sealed memfd.
    let descriptor: FileDescriptor

    private static let copyChunkSize = 1 << 20

    /// Copies, seals and measures the regular file at `path` (symbolic links are followed).
    public init(path: String) throws {
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else {
            throw LaunchError.systemCall("open", "'\(path)'", code: .invalidExecutable)
        }
        let sourceDescriptor = FileDescriptor(adopting: source)
        var status = stat()
        guard fstat(source, &status) == 0 else {
            throw LaunchError.systemCall("fstat", "'\(path)'", code: .invalidExecutable)
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw LaunchError(.invalidExecutable, "'\(path)' is not a regular file")
        }
        let memfd = cloister_memfd_create_executable("cloister-image")
        guard memfd >= 0 else { throw LaunchError.systemCall("memfd_create", "for '\(path)'") }
        let image = FileDescriptor(adopting: memfd)
        try Self.copy(from: sourceDescriptor, to: image, path: path)
        guard fchmod(memfd, status.st_mode & 0o555) == 0 else {
            throw LaunchError.systemCall("fchmod", "of the image of '\(path)'")
        }
        guard cloister_memfd_seal(memfd) == 0 else {
            throw LaunchError.systemCall("fcntl(F_ADD_SEALS)", "on the image of '\(path)'")
        }
        self.path = path
        self.descriptor = image
        (self.sha384, self.size) = try Self.measure(image, path: path)
    }

    private static func copy(from source: FileDescriptor, to target: FileDescriptor, path: String) throws {
        var chunk = [UInt8](repeating: 0, count: copyChunkSize)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(source.rawValue, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw LaunchError.systemCall("read", "'\(path)'", code: .invalidExecutable) }
            if count == 0 { return }
            var written = 0
            while written < count {
                let result = chunk.withUnsafeBytes {
                    write(target.rawValue, $0.baseAddress! + written, count - written)
                }
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else { throw LaunchError.systemCall("write", "to the image of '\(path)'") }
                written += result
            }
        }
    }

    /// Hashes the sealed memfd with `pread`, so what is measured is what `execveat` will map.
    private static func measure(_ image: FileDescriptor, path: String) throws -> ([UInt8], Int) {
        var hasher = DigestAlgorithm.Hasher(.sha384)
        var chunk = [UInt8](repeating: 0, count: copyChunkSize)
        var offset = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(image.rawValue, $0.baseAddress, $0.count, off_t(offset)) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw LaunchError.systemCall("pread", "of the image of '\(path)'") }
            if count == 0 { break }
            hasher.update(chunk[..<count])
            offset += count
        }
        return (hasher.finalize(), offset)
    }
}
