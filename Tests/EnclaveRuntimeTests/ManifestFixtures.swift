import CloisterTestSupport
import EnclaveRuntime
import Foundation

/// A manifest set written into a fresh temporary directory: `enclave.toml`, a trusted file `data/greeting.txt`
/// and a tiny stand-in executable `bin/workload` (the manifest's `file:` entrypoint).
struct ManifestFixture {
    static let executableBytes: [UInt8] = Array("\u{7f}ELF tiny stand-in executable\n".utf8)
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
