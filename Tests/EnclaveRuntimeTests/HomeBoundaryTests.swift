import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Glibc
import Testing

/// DESIGN.md invariant 6: no manifest can reach the platform's home. Every route a manifest could take to the
/// home's files is refused when signing (with the home given) and again at launch (whatever the signer did).
@Suite("No manifest reaches the platform home (invariant 6)")
struct HomeBoundaryTests {
    /// One way a manifest could name the home: the TOML it adds to the echo fixture, and the key the refusal names.
    struct Route: CustomTestStringConvertible, Sendable {
        let name: String
        let keyPath: String
        /// The TOML added to the fixture, given the platform fixture and the manifest's directory.
        let toml: @Sendable (PlatformFixture, URL) throws -> String

        var testDescription: String { name }

        static func allowed(
            _ name: String, access: String = "ro", _ path: @escaping @Sendable (PlatformFixture, URL) throws -> String
        )
            -> Route
        {
            Route(name: name, keyPath: "fs.allowed[0].path") { platform, directory in
                "[fs]\nallowed = [{ path = \"\(try path(platform, directory))\", access = \"\(access)\" }]\n"
            }
        }

        static func trusted(_ name: String, _ path: @escaping @Sendable (PlatformFixture, URL) throws -> String)
            -> Route
        {
            Route(name: name, keyPath: "trusted_files[") { platform, directory in
                "[[trusted_files]]\nuri = \"file:\(try path(platform, directory))\"\nsha384 = \"\"\n"
            }
        }
    }

    static let routes: [Route] = [
        .allowed("inside: the device secret") { platform, _ in try platform.home.path(of: .deviceSecret) },
        .allowed("inside: the counters, read-write", access: "rw") { platform, _ in platform.home.countersDirectory },
        .allowed("equal: the home itself") { platform, _ in platform.home.path },
        .allowed("above: the home's parent") { platform, _ in platform.directory.path },
        .allowed("above: the root directory") { _, _ in "/" },
        .allowed("a symbolic link to the home") { platform, directory in
            try FileManager.default.createSymbolicLink(
                atPath: directory.appendingPathComponent("innocent").path, withDestinationPath: platform.home.path)
            return "innocent" + (try platform.home.path(of: .deviceSecret)).dropFirst(platform.home.path.count)
        },
        .allowed("a symbolic link above the home") { platform, directory in
            try FileManager.default.createSymbolicLink(
                atPath: directory.appendingPathComponent("up").path, withDestinationPath: "/")
            return "up"
        },
        .allowed("'..' segments from the manifest's directory into the home") { platform, directory in
            let depth = directory.pathComponents.count - 1
            return String(repeating: "../", count: depth) + String(platform.home.countersDirectory.dropFirst())
        },
        .allowed("a hard link to the attestation key") { platform, directory in
            let link = directory.appendingPathComponent("key.pem").path
            let key = try platform.home.path(of: .attestationKey)
            #expect(Glibc.link(key, link) == 0)
            return "key.pem"
        },
        .allowed("/proc/<platform pid>/root into the home") { platform, _ in
            "/proc/\(getpid())/root" + platform.home.path
        },
        .allowed("/proc/self: the platform's own process entry") { _, _ in "/proc/self/environ" },
        .allowed("/proc/<pid>: another process's entry") { _, _ in "/proc/1" },
        .trusted("a trusted file inside the home") { platform, _ in try platform.home.path(of: .attestationKey) },
        .trusted("a trusted file through a symbolic link") { platform, directory in
            try FileManager.default.createSymbolicLink(
                atPath: directory.appendingPathComponent("notes.txt").path,
                withDestinationPath: try platform.home.path(of: .deviceSecret))
            return "notes.txt"
        },
        .trusted("a trusted file with '..' segments") { platform, directory in
            "data/../" + String(repeating: "../", count: directory.pathComponents.count - 1)
                + String(try platform.home.path(of: .rootKey).dropFirst())
        },
    ]

    @Test("launch refuses the route, naming the key (65-class manifest error)", arguments: routes)
    func launchRefuses(_ route: Route) throws {
        let platform = try PlatformFixture()
        let fixture = try EchoManifestFixture(extraTOML: { try route.toml(platform, $0) })
        let error = try #require(throws: ManifestError.self) {
            try EnclaveLauncher(platform: platform.platform, locator: fixture.locator).launch(
                fixture.load(), standardStreams: StandardStreams(output: .null, error: .null))
        }
        #expect(error.code == .invalidValue)
        #expect(error.reason.hasPrefix(route.keyPath), "\(error.reason)")
        #expect(error.reason.contains("platform"), "\(error.reason)")
    }

    @Test("sign refuses the route when it knows the home", arguments: routes)
    func signRefuses(_ route: Route) throws {
        let platform = try PlatformFixture()
        let error = try #require(throws: ManifestError.self) {
            _ = try EchoManifestFixture(
                extraTOML: { try route.toml(platform, $0) }, boundary: HomeBoundary(home: platform.home))
        }
        #expect(error.reason.hasPrefix(route.keyPath), "\(error.reason)")
        #expect(error.path?.hasSuffix("echo.toml") == true)
    }

    @Test("paths beside the home, a sibling with the home's name as a prefix, and /proc/cpuinfo are not refused")
    func neighboursPass() throws {
        let platform = try PlatformFixture()
        let boundary = try HomeBoundary(home: platform.home)
        let sibling = platform.home.path + "-backup"
        #expect(mkdir(sibling, 0o700) == 0)
        for path in [sibling, platform.directory.appendingPathComponent("other").path, "/proc/cpuinfo", "/usr/share"] {
            try boundary.check(path, keyPath: "fs.allowed[0].path")
        }
        let fixture = try EchoManifestFixture(extraTOML: { _ in
            "[fs]\nallowed = [{ path = \"\(sibling)\", access = \"ro\" }]\n"
        })
        let enclave = try EnclaveLauncher(platform: platform.platform, locator: fixture.locator).launch(
            fixture.load(), standardStreams: StandardStreams(output: .null, error: .null))
        enclave.host.shutdown()
        #expect(try enclave.wait() == .exited(0))
    }

    @Test("a library the loader would map from the home is refused, naming it: Landlock lets the enclave read it")
    func libraryInTheHome() throws {
        let platform = try PlatformFixture()
        let boundary = try HomeBoundary(home: platform.home)
        let secret = try platform.home.path(of: .deviceSecret)
        let libraries = [
            LoadedLibrary(path: "/lib/x86_64-linux-gnu/libc.so.6", sha384: [UInt8](repeating: 1, count: 48)),
            LoadedLibrary(path: secret, sha384: [UInt8](repeating: 2, count: 48)),
        ]
        let error = try #require(throws: ManifestError.self) { try boundary.check(libraries) }
        #expect(error.keyPath == "loader.entrypoint")
        #expect(error.path == secret)
        #expect(error.reason.contains("inside the platform home"), "\(error.reason)")
        try boundary.check(Array(libraries.prefix(1)))
    }

    @Test("a dangling symbolic link into the home is refused before the file exists")
    func danglingLink() throws {
        let platform = try PlatformFixture()
        let link = platform.directory.appendingPathComponent("later").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: platform.home.path + "/not-yet")
        let error = try #require(throws: ManifestError.self) {
            try HomeBoundary(home: platform.home).check(link, keyPath: "fs.allowed[0].path")
        }
        #expect(error.reason.contains("inside the platform home"))
    }

    @Test("the platform refuses a home whose secret has a second link, naming it")
    func hardLinkedHome() throws {
        let platform = try PlatformFixture()
        let secret = try platform.home.path(of: .deviceSecret)
        #expect(Glibc.link(secret, platform.directory.appendingPathComponent("copy").path) == 0)
        let error = try #require(throws: PlatformError.self) { try platform.reopened() }
        #expect(error.code == .insecurePermissions)
        #expect(error.reason.contains(secret) && error.reason.contains("2 links"))
    }

    @Test("cloister sign refuses a manifest that reaches --home (exit 65, naming the key)")
    func signCommand() throws {
        let platform = try PlatformFixture()
        let directory = try TestEnvironment.temporaryDirectory("sign-home")
        let manifest = directory.appendingPathComponent("echo.toml")
        try Data(
            """
            [loader]
            entrypoint = "builtin:echo"
            [enclave]
            name = "reach"
            size = "1M"
            product_id = 1
            svn = 1
            [enclave.regions]
            scratch = "64K"
            [fs]
            allowed = [{ path = "\(platform.home.countersDirectory)", access = "rw" }]
            """.utf8
        ).write(to: manifest)
        let output = try runTool(
            TestEnvironment.productsDirectory + "/cloister",
            ["sign", manifest.path, "--key", EchoManifestFixture.developmentKey.path, "--home", platform.home.path])
        #expect(output.status == 65)
        #expect(output.standardError.contains("fs.allowed[0].path"), "\(output.standardError)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("echo.manifest.cose").path))
    }
}
