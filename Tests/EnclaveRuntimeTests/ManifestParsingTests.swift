import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

@Suite("Manifest parsing")
struct ManifestParsingTests {
    @Test("every example in Manifests/ parses and validates")
    func examplesParse() throws {
        let directory = TestEnvironment.packageRoot.appendingPathComponent("Manifests")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".toml") }
        #expect(!names.isEmpty)
        for name in names {
            let manifest = try EnclaveManifest(contentsOfFile: directory.appendingPathComponent(name).path)
            #expect(!manifest.regions.isEmpty, "\(name)")
            // Every trusted file an example names exists beside it.
            _ = try manifest.fillingTrustedFileHashes(baseDirectory: directory.path)
        }
    }

    @Test("the fixture's values are read as written")
    func values() throws {
        let manifest = try EnclaveManifest(toml: ManifestFixture.toml)
        #expect(manifest.name == "fixture")
        #expect(manifest.entrypoint == .file("bin/workload"))
        #expect(manifest.arguments == ["workload", "--mode", "echo"])
        #expect(manifest.environment == ["LOG_LEVEL": "info"])
        #expect(manifest.size == 64 << 20)
        #expect(manifest.productID == 7 && manifest.svn == 3 && !manifest.debug)
        #expect(
            manifest.regions == [.init(name: "scratch", size: 16 << 20), .init(name: "weights", size: 8192)])
        #expect(manifest.trustedFiles == [.init(uri: "file:data/greeting.txt", sha384: nil)])
        #expect(
            manifest.allowedPaths == [
                .init(path: "/tmp/cloister-fixture", access: .readWrite), .init(path: "data", access: .readOnly),
            ])
        #expect(manifest.syscallAllowList == ["read", "write", "exit_group"])
        #expect(
            manifest.allowedPaths[1].rule(against: "/srv/enclave") == FilesystemRule("/srv/enclave/data", .readOnly))
    }

    @Test("sizes: K, M and G suffixes and plain byte counts")
    func sizes() throws {
        for (text, bytes) in [("\"4K\"", 4096), ("\"2M\"", 2 << 20), ("\"1G\"", 1 << 30), ("65536", 65536)] {
            let manifest = try EnclaveManifest(toml: replacing("size = \"64M\"", with: "size = \(text)"))
            #expect(manifest.size == UInt64(bytes), "\(text)")
        }
    }

    /// The fixture with `original` replaced by `replacement` (which must occur).
    private func replacing(_ original: String, with replacement: String) -> String {
        precondition(ManifestFixture.toml.contains(original), "fixture lacks \(original)")
        return ManifestFixture.toml.replacingOccurrences(of: original, with: replacement)
    }

    static let invalidCases: [(String, String, String, ManifestError.Code, String)] = [
        ("unknown top-level key", "[loader]", "colour = \"red\"\n[loader]", .unknownKey, "colour"),
        ("unknown nested key", "product_id = 7", "product_id = 7\nsise = \"1M\"", .unknownKey, "enclave.sise"),
        (
            "unknown key in an array of tables", "sha384 = \"\"", "sha384 = \"\"\nmode = 1", .unknownKey,
            "trusted_files[0].mode"
        ),
        ("unknown key in fs", "[fs]", "[fs]\ndenied = []", .unknownKey, "fs.denied"),
        ("svn of the wrong type", "svn = 3", "svn = \"3\"", .wrongType, "enclave.svn"),
        ("debug of the wrong type", "debug = false", "debug = 0", .wrongType, "enclave.debug"),
        ("argv element of the wrong type", "\"--mode\", \"echo\"]", "\"--mode\", 1]", .wrongType, "loader.argv[2]"),
        ("env value of the wrong type", "LOG_LEVEL = \"info\"", "LOG_LEVEL = 3", .wrongType, "loader.env.LOG_LEVEL"),
        ("LD_PRELOAD", "LOG_LEVEL = \"info\"", "LD_PRELOAD = \"/tmp/a.so\"", .invalidValue, "loader.env.LD_PRELOAD"),
        (
            "LD_LIBRARY_PATH", "LOG_LEVEL = \"info\"", "LD_LIBRARY_PATH = \"/tmp\"", .invalidValue,
            "loader.env.LD_LIBRARY_PATH"
        ),
        ("LD_AUDIT", "LOG_LEVEL = \"info\"", "LD_AUDIT = \"/tmp/a.so\"", .invalidValue, "loader.env.LD_AUDIT"),
        ("any LD_ variable", "LOG_LEVEL = \"info\"", "LD_BIND_NOW = \"1\"", .invalidValue, "loader.env.LD_BIND_NOW"),
        (
            "GLIBC_TUNABLES", "LOG_LEVEL = \"info\"", "GLIBC_TUNABLES = \"glibc.malloc.check=3\"", .invalidValue,
            "loader.env.GLIBC_TUNABLES"
        ),
        (
            "MALLOC_ variables", "LOG_LEVEL = \"info\"", "MALLOC_CHECK_ = \"3\"", .invalidValue,
            "loader.env.MALLOC_CHECK_"
        ),
        ("GCONV_PATH", "LOG_LEVEL = \"info\"", "GCONV_PATH = \"/tmp\"", .invalidValue, "loader.env.GCONV_PATH"),
        (
            "OPENSSL_MODULES", "LOG_LEVEL = \"info\"", "OPENSSL_MODULES = \"/tmp\"", .invalidValue,
            "loader.env.OPENSSL_MODULES"
        ),
        ("bad size suffix", "size = \"64M\"", "size = \"64Q\"", .invalidValue, "enclave.size"),
        ("size not a page multiple", "size = \"64M\"", "size = 1000", .invalidValue, "enclave.size"),
        ("size beyond the limit", "size = \"64M\"", "size = \"65G\"", .invalidValue, "enclave.size"),
        ("zero region", "weights = 8192", "weights = 0", .invalidValue, "enclave.regions.weights"),
        ("region not a page multiple", "weights = 8192", "weights = 5000", .invalidValue, "enclave.regions.weights"),
        ("negative region", "weights = 8192", "weights = -4096", .invalidValue, "enclave.regions.weights"),
        ("empty region name", "weights = 8192", "\"\" = 8192", .invalidValue, "enclave.regions.\"\""),
        ("no regions", "scratch = \"16M\"\nweights = 8192", "", .invalidValue, "enclave.regions"),
        ("bad access", "access = \"ro\"", "access = \"rx\"", .invalidValue, "fs.allowed[1].access"),
        ("empty path", "path = \"data\"", "path = \"\"", .invalidValue, "fs.allowed[1].path"),
        ("svn out of range", "svn = 3", "svn = 65536", .invalidValue, "enclave.svn"),
        ("negative product id", "product_id = 7", "product_id = -1", .invalidValue, "enclave.product_id"),
        ("product id out of range", "product_id = 7", "product_id = 70000", .invalidValue, "enclave.product_id"),
        ("empty name", "name = \"fixture\"", "name = \"\"", .invalidValue, "enclave.name"),
        ("name with a slash", "name = \"fixture\"", "name = \"a/b\"", .invalidValue, "enclave.name"),
        ("missing entrypoint", "entrypoint = \"file:bin/workload\"", "", .missingKey, "loader.entrypoint"),
        ("missing svn", "svn = 3", "", .missingKey, "enclave.svn"),
        ("unknown entrypoint scheme", "file:bin/workload", "http://x", .invalidValue, "loader.entrypoint"),
        ("empty builtin", "file:bin/workload", "builtin:", .invalidValue, "loader.entrypoint"),
        (
            "trusted file not a file URI", "file:data/greeting.txt", "data/greeting.txt", .invalidValue,
            "trusted_files[0].uri"
        ),
        ("short sha384", "sha384 = \"\"", "sha384 = \"abcd\"", .invalidValue, "trusted_files[0].sha384"),
        ("unknown syscall", "\"write\"", "\"wirte\"", .invalidValue, "seccomp.allow[1]"),
        ("empty seccomp list", "[\"read\", \"write\", \"exit_group\"]", "[]", .invalidValue, "seccomp.allow"),
        (
            "regions not a table", "[enclave.regions]\nscratch = \"16M\"\nweights = 8192", "regions = 3", .wrongType,
            "enclave.regions"
        ),
    ]

    @Test("each invalid manifest is refused with an error naming the key", arguments: 0..<invalidCases.count)
    func invalid(_ index: Int) throws {
        let (label, original, replacement, code, keyPath) = Self.invalidCases[index]
        let error = manifestError { _ = try EnclaveManifest(toml: replacing(original, with: replacement)) }
        #expect(error?.code == code, "\(label): \(String(describing: error))")
        #expect(error?.keyPath == keyPath, "\(label): \(String(describing: error))")
        #expect(error?.reason.hasPrefix(keyPath) == true, "\(label)")
    }

    @Test("the reasons read as documented")
    func reasons() {
        let size = manifestError {
            _ = try EnclaveManifest(toml: replacing("size = \"64M\"", with: "size = \"64Q\""))
        }
        #expect(
            size?.reason == "enclave.size: \"64Q\" is not a size (use bytes with an optional K, M or G suffix)")
        let unknown = manifestError {
            _ = try EnclaveManifest(toml: replacing("product_id = 7", with: "product_id = 7\nsise = 1"))
        }
        #expect(unknown?.reason.hasPrefix("enclave.sise: unknown key") == true)
    }

    @Test("TOML syntax errors give the line; errors from a file name the file")
    func syntaxAndFile() throws {
        let fixture = try ManifestFixture(toml: "[loader\nentrypoint = 1")
        let error = manifestError { _ = try EnclaveManifest(contentsOfFile: fixture.manifestPath) }
        #expect(error?.code == .syntax)
        #expect(error?.reason.contains("line 1") == true)
        #expect(error?.path == fixture.manifestPath)
        #expect(error?.description.hasPrefix(fixture.manifestPath + ": ") == true)
    }

    @Test("a NUL escape is refused (the TOML library would cut the string short)")
    func nulEscape() {
        let error = manifestError {
            _ = try EnclaveManifest(toml: replacing("\"--mode\"", with: "\"--mo\\u0000de\""))
        }
        #expect(error?.code == .syntax)
    }

    @Test("the executable locator: override, then beside the running executable, else a clear error")
    func locator() throws {
        let fixture = try ManifestFixture()
        let override = EnclaveExecutableLocator(
            enclaveExecutable: fixture.path("bin/workload"), runningExecutableDirectory: "/nonexistent")
        #expect(try override.executablePath(for: .builtin("echo"), baseDirectory: "/x") == fixture.path("bin/workload"))
        try Data().write(to: fixture.url("bin/cloister-enclave"))
        let beside = EnclaveExecutableLocator(enclaveExecutable: nil, runningExecutableDirectory: fixture.path("bin"))
        #expect(
            try beside.executablePath(for: .builtin("echo"), baseDirectory: "/x")
                == fixture.path("bin/cloister-enclave"))
        #expect(try beside.executablePath(for: .file("tool"), baseDirectory: "/srv") == "/srv/tool")
        let error = manifestError {
            _ = try EnclaveExecutableLocator.none.executablePath(for: .builtin("echo"), baseDirectory: "/")
        }
        #expect(error?.code == .executableNotFound)
        #expect(error?.reason.contains(EnclaveExecutableLocator.environmentVariable) == true)
    }
}
