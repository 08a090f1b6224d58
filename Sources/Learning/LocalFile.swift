import CloisterErrors
import Glibc

/// Reads the data owner's files (datasets, schemas) with the C library, so a failure says why in the system's words
/// ("No such file or directory (errno 2)") without Foundation's localized errors, which the enclave image does not link.
enum LocalFile {
    struct Failure: Error {
        /// The C library's reason (`errnoText`).
        let reason: String
    }

    /// The whole content of the file at `path`.
    static func bytes(at path: String) throws(Failure) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(reason: errnoText(errno)) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            guard count > 0 else {
                if errno == EINTR { continue }
                throw Failure(reason: errnoText(errno))
            }
            bytes.append(contentsOf: chunk[..<count])
        }
    }
}

extension Substring {
    /// The text without leading and trailing blanks, exactly as Foundation's `trimmingCharacters(in: .whitespaces)`
    /// trims: Unicode scalars of general category Zs (space separators), the tab, and U+200B ZERO WIDTH SPACE (which
    /// Foundation's set holds too).
    func trimmingBlanks() -> String {
        func isBlank(_ scalar: Unicode.Scalar) -> Bool {
            // In ASCII, Zs holds the space alone; the property lookup is for the rest.
            if scalar.isASCII { return scalar == " " || scalar == "\t" }
            return scalar == "\u{200B}" || scalar.properties.generalCategory == .spaceSeparator
        }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isBlank($0) }),
            let last = scalars.lastIndex(where: { !isBlank($0) })
        else { return "" }
        return String(Substring(scalars[first...last]))
    }
}
