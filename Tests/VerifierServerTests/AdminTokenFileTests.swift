import CloisterTestSupport
import Foundation
import Glibc
import Testing
import VerifierServer

@Suite("the admin token file: private to its owner, as platform files are")
struct AdminTokenFileTests {
    let directory: URL
    let token = "0123456789abcdef0123456789abcdef"

    init() throws {
        directory = try TestEnvironment.temporaryDirectory("admin-token")
    }

    /// A file holding `text` with `mode`.
    private func file(_ name: String, _ text: String, mode: mode_t) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        #expect(chmod(path, mode) == 0)
        return path
    }

    @Test("a file only its owner can read or write is read, whitespace trimmed; a symbolic link to it is followed")
    func accepted() throws {
        for mode: mode_t in [0o600, 0o400] {
            let path = try file("token-\(String(mode, radix: 8))", token + "\n", mode: mode)
            #expect(try AdminTokenFile.read(path) == Array(token.utf8))
        }
        let link = directory.appendingPathComponent("link").path
        #expect(symlink(directory.appendingPathComponent("token-600").path, link) == 0)
        #expect(try AdminTokenFile.read(link) == Array(token.utf8))
    }

    @Test("any permission for group or others is refused, naming the file, its mode and the chmod to run")
    func groupOrWorldReachable() throws {
        for mode: mode_t in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660] {
            let path = try file("token-\(String(mode, radix: 8))", token, mode: mode)
            let refusal = #expect(throws: AdminTokenFile.Refusal.self) { try AdminTokenFile.read(path) }
            #expect(refusal?.kind == .insecure)
            #expect(refusal?.reason.contains("\(path) has mode \(String(mode, radix: 8))") == true)
            #expect(refusal?.reason.contains("chmod 600 \(path)") == true)
        }
    }

    @Test("a file another user owns is refused", .enabled(if: geteuid() == 0, "needs root to give a file away"))
    func otherOwner() throws {
        let path = try file("token-nobody", token, mode: 0o600)
        #expect(chown(path, 65_534, 65_534) == 0)
        let refusal = #expect(throws: AdminTokenFile.Refusal.self) { try AdminTokenFile.read(path) }
        #expect(refusal?.kind == .insecure)
        #expect(refusal?.reason.contains("\(path) is owned by uid 65534") == true)
    }

    @Test("a missing file, a directory, a FIFO, a short token and an oversized file are refused, naming the path")
    func notAToken() throws {
        let missing = directory.appendingPathComponent("missing").path
        let fifo = directory.appendingPathComponent("fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let cases: [(String, AdminTokenFile.Refusal.Kind)] = [
            (missing, .unreadable),
            (directory.path, .invalid),
            (fifo, .invalid),
            (try file("short", "  short-token \n", mode: 0o600), .invalid),
            (try file("large", String(repeating: "a", count: AdminTokenFile.maximumSize + 1), mode: 0o600), .invalid),
        ]
        for (path, kind) in cases {
            let refusal = #expect(throws: AdminTokenFile.Refusal.self) { try AdminTokenFile.read(path) }
            #expect(refusal?.kind == kind, "\(path)")
            #expect(refusal?.reason.contains(path) == true, "\(refusal?.reason ?? "")")
        }
    }

    @Test("cloister serve refuses a world-readable token file with exit 78 before it serves, and says what to run")
    func serveRefuses() throws {
        let path = try file("token-644", token, mode: 0o644)
        let output = try runTool(
            cloisterExecutable,
            [
                "serve", "--port", "1", "--db", "sqlite:" + directory.appendingPathComponent("v.sqlite").path,
                "--admin-token-file", path,
            ], timeoutSeconds: 60)
        #expect(output.status == 78, "\(output.standardError)")
        #expect(output.standardError.contains("chmod 600 \(path)"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("v.sqlite").path))
    }
}
