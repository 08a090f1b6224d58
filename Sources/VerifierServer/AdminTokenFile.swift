import CloisterErrors
import Foundation
import Glibc

/// The bearer token of the provisioning routes, read from a file that only its owner may read or change, as the
/// platform's secret files are (`cloister platform init` makes them 0600 and every command refuses others').
public enum AdminTokenFile {
    /// The shortest token accepted, in characters.
    public static let minimumLength = 16
    /// The largest file read: a token, not a document.
    public static let maximumSize = 4096

    /// Why a token file was refused.
    public struct Refusal: Error, Sendable, CustomStringConvertible {
        public enum Kind: Sendable, Hashable {
            /// The file cannot be opened or read.
            case unreadable
            /// Another user owns the file, or others may read or write it.
            case insecure
            /// The file does not hold a token: too short, too long, not a regular file.
            case invalid
        }

        public let kind: Kind
        /// What is wrong, naming the file, and what to run.
        public let reason: String

        public var description: String { reason }
    }

    /// The token in the file at `path`, surrounding whitespace removed. The file must be a regular file (a symbolic
    /// link to one is followed) owned by this user with no permission for group or others (mode 0600 or 0400).
    public static func read(_ path: String) throws(Refusal) -> [UInt8] {
        // Non-blocking, so that a FIFO is refused for its type instead of waiting for a writer.
        let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw Refusal(kind: .unreadable, reason: "cannot open the admin token file \(path): \(errnoText(errno))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw Refusal(kind: .unreadable, reason: "cannot stat the admin token file \(path): \(errnoText(errno))")
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw Refusal(kind: .invalid, reason: "the admin token file \(path) is not a regular file")
        }
        guard status.st_uid == geteuid() else {
            throw Refusal(
                kind: .insecure,
                reason: "the admin token file \(path) is owned by uid \(status.st_uid), not by this user "
                    + "(uid \(geteuid())): copy it to a file of yours and run chmod 600 on the copy")
        }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw Refusal(
                kind: .insecure,
                reason: "the admin token file \(path) has mode \(String(mode, radix: 8)): others can read or change "
                    + "the admin token; run chmod 600 \(path)")
        }
        var bytes = [UInt8](repeating: 0, count: maximumSize + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress! + count, $0.count - count) }
            if got == 0 { break }
            guard got > 0 else {
                if errno == EINTR { continue }
                throw Refusal(
                    kind: .unreadable, reason: "cannot read the admin token file \(path): \(errnoText(errno))")
            }
            count += got
        }
        guard count <= maximumSize else {
            throw Refusal(kind: .invalid, reason: "the admin token file \(path) is larger than \(maximumSize) bytes")
        }
        let token = String(decoding: bytes.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.count >= minimumLength else {
            throw Refusal(
                kind: .invalid,
                reason: "the admin token in \(path) must be at least \(minimumLength) characters "
                    + "(e.g. openssl rand -hex 32)")
        }
        return Array(token.utf8)
    }
}
