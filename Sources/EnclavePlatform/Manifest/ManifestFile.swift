import CloisterCrypto
public import EnclaveProtocol
import Glibc

/// File access for manifests, signed manifests and the files they measure, and paths resolved as the kernel walks
/// them; errors name the file.
package enum ManifestFile {
    private static let chunkSize = 1 << 20

    /// The whole content of the file at `path`.
    static func read(_ path: String) throws(ManifestError) -> [UInt8] {
        var bytes: [UInt8] = []
        try stream(path) { bytes += $0 }
        return bytes
    }

    /// SHA-384 of the file at `path`, read in 1 MiB chunks (executables can be tens of megabytes).
    static func sha384(_ path: String) throws(ManifestError) -> [UInt8] {
        var hasher = DigestAlgorithm.Hasher(.sha384)
        try stream(path) { hasher.update($0) }
        return hasher.finalize()
    }

    private static func stream(_ path: String, _ body: (ArraySlice<UInt8>) -> Void) throws(ManifestError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw systemError("cannot open", path) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw systemError("cannot stat", path) }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw ManifestError(.io, "not a regular file", path: path)
        }
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw systemError("cannot read", path) }
            if count == 0 { return }
            body(chunk[..<count])
        }
    }

    /// Writes `bytes` to `path` atomically: a temporary file in the same directory, fsync, rename, fsync of the
    /// directory. On failure the temporary file is removed and `path` is untouched.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(ManifestError) {
        let directory = directoryName(of: path)
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array("\(directory)/.\(name).tmp-XXXXXX".utf8CString)
        let descriptor = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard descriptor >= 0 else { throw systemError("cannot create a temporary file in \(directory) for", path) }
        _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var renamed = false
        defer {
            if !renamed { unlink(temporary) }
        }
        do {
            defer { close(descriptor) }
            var offset = 0
            while offset < bytes.count {
                let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { throw systemError("cannot write", temporary) }
                offset += count
            }
            guard fchmod(descriptor, 0o644) == 0 else { throw systemError("cannot chmod", temporary) }
            guard fsync(descriptor) == 0 else { throw systemError("cannot fsync", temporary) }
        }
        guard rename(temporary, path) == 0 else { throw systemError("cannot rename \(temporary) to", path) }
        renamed = true
        let directoryDescriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    /// The directory part of `path` ("." when it has none).
    package static func directoryName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// The absolute path the kernel would reach by `path` (relative paths against the working directory): symbolic
    /// links followed (at most 40, as the kernel allows), `.` dropped, `..` applied to what precedes it once resolved.
    package static func resolve(_ path: String) -> String {
        var pending = components(path.hasPrefix("/") ? path : workingDirectory() + "/" + path)
        var resolved: [String] = []
        var links = 0
        while !pending.isEmpty {
            let component = pending.removeFirst()
            if component == "." { continue }
            if component == ".." {
                _ = resolved.popLast()
                continue
            }
            let candidate = "/" + (resolved + [component]).joined(separator: "/")
            var status = stat()
            guard links < 40, lstat(candidate, &status) == 0, status.st_mode & S_IFMT == S_IFLNK,
                let target = readLink(candidate)
            else {
                resolved.append(component)
                continue
            }
            links += 1
            if target.hasPrefix("/") { resolved = [] }
            pending = components(target) + pending
        }
        return "/" + resolved.joined(separator: "/")
    }

    private static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    private static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func workingDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "/" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func systemError(_ what: String, _ path: String) -> ManifestError {
        let error = errno
        return ManifestError(.io, "\(what): \(String(cString: strerror(error))) (errno \(error))", path: path)
    }
}
