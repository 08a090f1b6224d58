import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation

/// A manifest set written into a fresh temporary directory: `enclave.toml`, a trusted file `data/greeting.txt`
/// and a tiny stand-in executable `bin/workload` (the manifest's `file:` entrypoint).
struct ManifestFixture {
    /// The smallest statically linked x86-64 ELF executable: an ELF header, one loadable segment (read and execute)
    /// and `exit(0)` (`mov eax, 60; xor edi, edi; syscall`). It names no loader and no library.
    static let executableBytes: [UInt8] = {
        func little(_ value: UInt64, _ width: Int) -> [UInt8] {
            (0..<width).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
        }
        let code: [UInt8] = [0xb8, 0x3c, 0x00, 0x00, 0x00, 0x31, 0xff, 0x0f, 0x05]
        let base: UInt64 = 0x40_0000
        let size = UInt64(64 + 56 + code.count)
        let identity: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, 2, 1, 1] + [UInt8](repeating: 0, count: 9)
        // ET_EXEC, EM_X86_64, version 1, entry after the headers, program headers at 64, no sections.
        let header =
            identity + little(2, 2) + little(62, 2) + little(1, 4) + little(base + 120, 8) + little(64, 8)
            + little(0, 8) + little(0, 4) + little(64, 2) + little(56, 2) + little(1, 2) + little(0, 6)
        // PT_LOAD, R+X, the whole file at `base`.
        let segment =
            little(1, 4) + little(5, 4) + little(0, 8) + little(base, 8) + little(base, 8) + little(size, 8)
            + little(size, 8) + little(0x1000, 8)
        return header + segment + code
    }()
    static let greeting = "hello, enclave\n"

    static let toml = """
        [loader]
        entrypoint = "file:bin/workload"
        argv = ["workload", "--mode", "echo"]
        env = { LOG_LEVEL = "info" }

        [enclave]
        name = "fixture"
        size = "64M"
        product_id = 7
        svn = 3
        debug = false

        [enclave.regions]
        scratch = "16M"
        weights = 8192

        [[trusted_files]]
        uri = "file:data/greeting.txt"
        sha384 = ""

        [fs]
        allowed = [ { path = "/tmp/cloister-fixture", access = "rw" }, { path = "data", access = "ro" } ]

        [seccomp]
        allow = ["read", "write", "exit_group"]
        """

    let directory: URL

    init(toml: String = ManifestFixture.toml) throws {
        directory = try TestEnvironment.temporaryDirectory("manifest")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try write(toml, to: "enclave.toml")
        try write(Self.greeting, to: "data/greeting.txt")
        try Data(Self.executableBytes).write(to: url("bin/workload"))
    }

    func url(_ relativePath: String) -> URL { directory.appendingPathComponent(relativePath) }
    func path(_ relativePath: String) -> String { url(relativePath).path }
    var manifestPath: String { path("enclave.toml") }

    func write(_ text: String, to relativePath: String) throws {
        try Data(text.utf8).write(to: url(relativePath))
    }

    /// Flips the last byte of the file at `relativePath`.
    func flipLastByte(of relativePath: String) throws {
        var bytes = try Data(contentsOf: url(relativePath))
        bytes[bytes.count - 1] ^= 0x01
        try bytes.write(to: url(relativePath))
    }

    /// A copy of the whole set in another fresh temporary directory.
    func copied() throws -> ManifestFixture {
        let target = try TestEnvironment.temporaryDirectory("manifest-copy")
        for name in ["enclave.toml", "data", "bin"] {
            try FileManager.default.copyItem(at: url(name), to: target.appendingPathComponent(name))
        }
        return ManifestFixture(directory: target)
    }

    private init(directory: URL) { self.directory = directory }

    func measured() throws -> MeasuredManifest {
        try MeasuredManifest(tomlManifestAt: manifestPath, locator: .none)
    }

    /// Names of the files in the fixture's top directory.
    func topLevelNames() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
    }
}

extension EnclaveExecutableLocator {
    /// A locator that finds no `cloister-enclave` (fixtures use `file:` entrypoints).
    static let none = EnclaveExecutableLocator(enclaveExecutable: nil, runningExecutableDirectory: nil)
}

/// The error `body` throws, when it is a `ManifestError`.
func manifestError(_ body: () throws -> Void) -> ManifestError? {
    do {
        try body()
        return nil
    } catch let error as ManifestError {
        return error
    } catch {
        return nil
    }
}

/// The package's development signer key.
func developmentSignerKey() throws -> String {
    try String(contentsOf: TestEnvironment.packageRoot.appendingPathComponent("Keys/dev-signer.pem"), encoding: .utf8)
}
