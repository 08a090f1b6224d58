internal import CEnclaveSandbox
import CloisterCrypto
import Glibc

/// A regular file copied into a `memfd` sealed against writes, shrinking, growing and further sealing, and hashed by
/// reading that memfd back: what is measured is exactly what later readers of the descriptor see, whatever happens to
/// the file on disk afterwards.
package final class SealedFile: Sendable {
    /// The path the copy was read from (informational: it is never opened again).
    package let path: String
    /// SHA-384 of the sealed bytes.
    package let sha384: [UInt8]
    /// Size of the copy in bytes.
    package let size: Int
    /// The sealed memfd.
    package let descriptor: FileDescriptor

    private static let chunkSize = 1 << 20

    /// Copies, seals and measures the regular file at `path` (symbolic links are followed); `executable` keeps the
    /// file's execute bits on a memfd that `execveat` can run, else the copy is a read-only data file.
    package init(path: String, executable: Bool, failure: LaunchError.Code) throws {
        let source = open(path, O_RDONLY | O_CLOEXEC)
        guard source >= 0 else { throw LaunchError.systemCall("open", "'\(path)'", code: failure) }
        let sourceDescriptor = FileDescriptor(adopting: source)
        var status = stat()
        guard fstat(source, &status) == 0 else { throw LaunchError.systemCall("fstat", "'\(path)'", code: failure) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw LaunchError(failure, "'\(path)' is not a regular file")
        }
        let memfd =
            executable
            ? cloister_memfd_create_executable("cloister-image")
            : cloister_memfd_create_data("cloister-trusted-file")
        guard memfd >= 0 else { throw LaunchError.systemCall("memfd_create", "for '\(path)'") }
        let copy = FileDescriptor(adopting: memfd)
        try Self.copy(from: sourceDescriptor, to: copy, path: path, failure: failure)
        guard fchmod(memfd, status.st_mode & (executable ? 0o555 : 0o444)) == 0 else {
            throw LaunchError.systemCall("fchmod", "of the copy of '\(path)'")
        }
        guard cloister_memfd_seal(memfd) == 0 else {
            throw LaunchError.systemCall("fcntl(F_ADD_SEALS)", "on the copy of '\(path)'")
        }
        self.path = path
        self.descriptor = copy
        (self.sha384, self.size) = try Self.measure(copy, path: path)
    }

    private static func copy(
        from source: FileDescriptor, to target: FileDescriptor, path: String, failure: LaunchError.Code
    ) throws {
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(source.rawValue, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw LaunchError.systemCall("read", "'\(path)'", code: failure) }
            if count == 0 { return }
            var written = 0
            while written < count {
                let result = chunk.withUnsafeBytes {
                    write(target.rawValue, $0.baseAddress! + written, count - written)
                }
                if result < 0 && errno == EINTR { continue }
                guard result > 0 else { throw LaunchError.systemCall("write", "to the copy of '\(path)'") }
                written += result
            }
        }
    }

    /// Hashes the sealed memfd with `pread`, so what is measured is what readers of the descriptor get.
    private static func measure(_ copy: FileDescriptor, path: String) throws -> ([UInt8], Int) {
        var hasher = DigestAlgorithm.Hasher(.sha384)
        var offset = 0
        try readSealed(copy) { chunk in
            hasher.update(chunk)
            offset += chunk.count
        }
        return (hasher.finalize(), offset)
    }

    /// Reads the whole of a sealed memfd from offset 0 with `pread`, chunk by chunk.
    package static func readSealed(_ descriptor: FileDescriptor, _ body: (ArraySlice<UInt8>) throws -> Void) throws {
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var offset = 0
        while true {
            let count = chunk.withUnsafeMutableBytes {
                pread(descriptor.rawValue, $0.baseAddress, $0.count, off_t(offset))
            }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw LaunchError.systemCall("pread", "of a sealed file copy") }
            if count == 0 { return }
            try body(chunk[..<count])
            offset += count
        }
    }
}
