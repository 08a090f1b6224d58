import Attestation
import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

/// Launches `fixture`'s enclave on `platform` with its standard streams discarded.
private func launch(_ fixture: EchoManifestFixture, on platform: Platform) throws -> LaunchedEnclave {
    try EnclaveLauncher(platform: platform, locator: fixture.locator).launch(
        fixture.load(), standardStreams: StandardStreams(output: .null, error: .null))
}

/// Closes the host channel and waits for the enclave.
private func finish(_ enclave: LaunchedEnclave) throws -> Termination {
    enclave.host.shutdown()
    return try enclave.wait()
}

@Suite("Enclaves launched by the platform (DESIGN.md invariants)")
struct EnclaveLaunchTests {
    @Test("the echo workload answers ECALLs, reports its hardening, and exits cleanly when the host closes")
    func echo() throws {
        let platform = try PlatformFixture().platform
        let fixture = try EchoManifestFixture()
        let enclave = try launch(fixture, on: platform)
        let caller = EnclaveCaller(channel: enclave.host)
        #expect(try caller.call("echo", Array("hello enclave".utf8)) == Array("hello enclave".utf8))
        #expect(try caller.call("ping") == [])
        #expect(throws: EnclaveCallError.self) { try caller.call("no-such-ecall") }
        let status = try CBORDecoder().decode(caller.call("main", CBORValue.array([.text("x")]).encoded()))
        #expect(status.uint64Value == 0)
        let record = enclave.record
        #expect(record.identity.measurement == fixture.signed.measurement.bytes)
        let expected: Set<IsolationMechanism> = [.notDumpable, .noCoreFiles, .noNewPrivileges, .closedDescriptors]
        #expect(record.mechanisms.isSuperset(of: expected))
        #expect(record.mechanisms.contains(.landlock) == (Landlock.abiVersion != nil))
        #expect(try finish(enclave) == .exited(0))
        #expect(!FileManager.default.fileExists(atPath: record.backingStoreDirectory), "backing store removed")
    }

    @Test("the enclave's quote binds its measurement, the nonce and its own key, and records the isolation applied")
    func quote() throws {
        let platformFixture = try PlatformFixture()
        let fixture = try EchoManifestFixture()
        let enclave = try launch(fixture, on: platformFixture.platform)
        let request: CBORValue = ["nonce": .bytes([0xde, 0xad]), "user_data": .null]
        let bytes = try EnclaveCaller(channel: enclave.host).call(EnclaveMain.quoteFunction, request.encoded())
        let record = enclave.record
        #expect(try finish(enclave) == .exited(0))
        let quote = try SignedAttestationDocument(encoded: bytes)
        try quote.verifySignature()
        try quote.verifyCertificates(
            with: platformFixture.chainVerifier(), crls: platformFixture.platform.revocationLists, at: Date())
        #expect(quote.document.pcrs[0] == fixture.signed.measurement.bytes)
        #expect(quote.document.pcrs[8] == fixture.signed.signer.bytes)
        #expect(quote.document.nonce == [0xde, 0xad])
        let key = try ECPublicKey(derRepresentation: #require(quote.document.publicKey))
        #expect(key.curve == .p256)
        #expect(quote.document.cloister?.isolation == record.mechanismNames)
        #expect(quote.document.cloister?.manifestHash == DigestAlgorithm.sha384.hash(fixture.signed.canonicalManifest))
    }

    @Test(
        "the enclave cannot open the platform's secret files, but can read its trusted files",
        .enabled(if: Landlock.abiVersion != nil, "needs Landlock"))
    func platformSecretsUnreachable() throws {
        let platformFixture = try PlatformFixture()
        let fixture = try EchoManifestFixture()
        let enclave = try launch(fixture, on: platformFixture.platform)
        let caller = EnclaveCaller(channel: enclave.host)
        let greeting = fixture.directory.appendingPathComponent("data/greeting.txt").path
        #expect(try caller.call("read-file", Array(greeting.utf8)) == Array(EchoManifestFixture.greeting.utf8))
        for file in [PlatformHome.File.deviceSecret, .attestationKey, .rootKey] {
            let path = try platformFixture.home.path(of: file)
            let error = #expect(throws: EnclaveCallError.self) { try caller.call("read-file", Array(path.utf8)) }
            #expect(error?.reason.contains("errno \(EACCES)") == true, "\(error?.reason ?? "")")
        }
        #expect(try finish(enclave) == .exited(0))
    }

    @Test("the launched enclave holds no capability: CapInh, CapPrm, CapEff, CapBnd and CapAmb are all zero")
    func noCapabilities() throws {
        let enclave = try launch(EchoManifestFixture(), on: PlatformFixture().platform)
        let status = try String(contentsOfFile: "/proc/\(enclave.process.pid)/status", encoding: .utf8)
        let sets = status.split(separator: "\n").filter { $0.hasPrefix("Cap") }
        #expect(sets.count == 5, "\(status)")
        for line in sets where !line.hasPrefix("CapBnd") || getuid() == 0 {
            #expect(line.hasSuffix("\t0000000000000000"), "\(line)")
        }
        #expect(enclave.record.mechanisms.contains(.noCapabilities))
        #expect(try finish(enclave) == .exited(0))
    }

    @Test(
        "the enclave reads its own /proc entries but not its launcher's environment",
        .enabled(if: Landlock.abiVersion != nil, "needs Landlock"))
    func procOfOthersUnreachable() throws {
        let enclave = try launch(EchoManifestFixture(), on: PlatformFixture().platform)
        let caller = EnclaveCaller(channel: enclave.host)
        let own = try caller.call("read-file", Array("/proc/self/status".utf8))
        #expect(String(decoding: own, as: UTF8.self).contains("Pid:\t\(enclave.process.pid)\n"))
        for path in ["/proc/\(getpid())/environ", "/proc/\(getpid())/status", "/proc/1/environ"] {
            let error = #expect(throws: EnclaveCallError.self) { try caller.call("read-file", Array(path.utf8)) }
            #expect(error?.reason.contains("errno \(EACCES)") == true, "\(path): \(error?.reason ?? "")")
        }
        #expect(try finish(enclave) == .exited(0))
    }

    @Test(
        "each shipped workload runs under its seccomp allow-list",
        arguments: ["echo", "dpsgd", "fedavg"])
    func shippedAllowLists(workload: String) throws {
        let fixture = try EnclaveFixture(manifest: workload)
        try #require(fixture.signed.manifest.syscallAllowList != nil, "Manifests/\(workload).toml has no [seccomp]")
        try fixture.withEnclave { enclave, caller in
            let status = try String(contentsOfFile: "/proc/\(enclave.process.pid)/status", encoding: .utf8)
            #expect(status.contains("\nSeccomp:\t2\n"), "filter mode")
            #expect(enclave.record.mechanisms.contains(.seccomp))
            let quote = try caller.call(
                EnclaveMain.quoteFunction, CBORValue.map([CBORMapEntry("nonce", .bytes([1]))]).encoded())
            #expect(try SignedAttestationDocument(encoded: quote).document.nonce == [1])
        }
    }

    @Test("a manifest whose allowed paths contain the platform home is refused")
    func allowedPathsExcludeHome() throws {
        let platformFixture = try PlatformFixture()
        let fixture = try EchoManifestFixture(
            extraTOML: "\n[fs]\nallowed = [{ path = \"\(platformFixture.directory.path)\", access = \"ro\" }]\n")
        let error = #expect(throws: ManifestError.self) { try launch(fixture, on: platformFixture.platform) }
        #expect(error?.reason.contains("platform home") == true)
    }

    @Test("a trusted file replaced on disk after launch: the enclave still reads the copy that was checked")
    func trustedFileReplacedAfterLaunch() throws {
        let platform = try PlatformFixture().platform
        let fixture = try EchoManifestFixture()
        let enclave = try launch(fixture, on: platform)
        let caller = EnclaveCaller(channel: enclave.host)
        let greeting = fixture.directory.appendingPathComponent("data/greeting.txt")
        try Data("the host's replacement\n".utf8).write(to: greeting)
        #expect(try caller.call("read-file", Array(greeting.path.utf8)) == Array(EchoManifestFixture.greeting.utf8))
        #expect(try finish(enclave) == .exited(0))
    }

    @Test(
        "a trusted file is reachable only as its checked copy: not by its path on the host's filesystem",
        .enabled(if: Landlock.abiVersion != nil, "needs Landlock"))
    func trustedFileNotOpenedFromDisk() throws {
        let platform = try PlatformFixture().platform
        let fixture = try EchoManifestFixture()
        let enclave = try launch(fixture, on: platform)
        let caller = EnclaveCaller(channel: enclave.host)
        let sibling = fixture.directory.appendingPathComponent("data/./greeting.txt").path
        let error = #expect(throws: EnclaveCallError.self) { try caller.call("read-file", Array(sibling.utf8)) }
        #expect(error?.reason.contains("errno \(EACCES)") == true, "\(error?.reason ?? "")")
        #expect(try finish(enclave) == .exited(0))
    }

    @Test("an allowed path that does not exist is a manifest error naming the key and where it was looked for")
    func missingAllowedPath() throws {
        let platform = try PlatformFixture().platform
        let fixture = try EchoManifestFixture(
            extraTOML: "\n[fs]\nallowed = [{ path = \"models\", access = \"ro\" }]\n")
        let error = #expect(throws: ManifestError.self) { try launch(fixture, on: platform) }
        #expect(error?.code == .io)
        #expect(error?.reason.hasPrefix("fs.allowed[0].path") == true)
        #expect(error?.reason.contains(fixture.directory.path) == true, "\(error?.reason ?? "")")
    }

    @Test("a backing store left by a killed platform is removed by the next launch; a live enclave's is kept")
    func abandonedBackingStoreRemoved() throws {
        let platform = try PlatformFixture().platform
        let fixture = try EchoManifestFixture()
        let live = try launch(fixture, on: platform)
        let base = URL(fileURLWithPath: live.record.backingStoreDirectory).deletingLastPathComponent().path
        let abandoned = base + "/cloister-sealed-pages-" + hexString(try SecureRandom.bytes(count: 8))
        #expect(mkdir(abandoned, 0o700) == 0)
        #expect(FileManager.default.createFile(atPath: abandoned + "/page-0", contents: Data([1, 2, 3])))
        // Directories that only look alike are somebody else's: never touched.
        let lookalikes = try [
            "cloister-sealed-pages-notanid0000000", "cloister-sealed-pages-0123", "cloister-enclave-copy",
        ]
        .map { base + "/" + $0 + "-" + hexString(try SecureRandom.bytes(count: 2)) }
        for path in lookalikes { #expect(mkdir(path, 0o700) == 0) }
        defer { for path in lookalikes { rmdir(path) } }
        let next = try launch(fixture, on: platform)
        #expect(!FileManager.default.fileExists(atPath: abandoned))
        for path in lookalikes { #expect(FileManager.default.fileExists(atPath: path), "\(path)") }
        #expect(FileManager.default.fileExists(atPath: live.record.backingStoreDirectory))
        #expect(try finish(next) == .exited(0))
        #expect(try finish(live) == .exited(0))
        #expect(!FileManager.default.fileExists(atPath: live.record.backingStoreDirectory))
    }

    @Test("swapping the executable after signing is detected and the launch refused")
    func swappedExecutable() throws {
        let platform = try PlatformFixture().platform
        let copy = try TestEnvironment.temporaryDirectory("enclave-copy").appendingPathComponent("cloister-enclave")
        try FileManager.default.copyItem(
            atPath: TestEnvironment.productsDirectory + "/cloister-enclave", toPath: copy.path)
        let fixture = try EchoManifestFixture(enclaveExecutable: copy.path)
        let handle = try FileHandle(forWritingTo: copy)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        let error = #expect(throws: ManifestError.self) { try launch(fixture, on: platform) }
        #expect(error?.code == .inputMismatch)
        #expect(error?.reason.contains("executable changed since signing") == true)
    }

    @Test("a library that differs from the one measured at signing is refused at launch, naming it")
    func libraryChangedSinceSigning() throws {
        let platform = try PlatformFixture().platform
        let fixture = try EchoManifestFixture()
        let libraries = fixture.signed.libraries
        let libcbor = try #require(libraries.firstIndex { $0.path.contains("libcbor") }, "\(libraries)")
        // Signed when libcbor had other content: the library on this host is not the one measured.
        var signedLibraries = libraries
        signedLibraries[libcbor] = LoadedLibrary(
            path: libraries[libcbor].path, sha384: libraries[libcbor].sha384.map { ~$0 })
        let measured = try MeasuredManifest(
            manifest: fixture.signed.manifest, executableSHA384: fixture.signed.executableSHA384,
            libraries: signedLibraries)
        #expect(measured.measurement != fixture.signed.measurement)
        let path = fixture.directory.appendingPathComponent("stale.manifest.cose").path
        try SignedManifest(signing: measured, with: ECPrivateKey(generating: .p256)).write(to: path)
        let error = #expect(throws: ManifestError.self) {
            try EnclaveLauncher(platform: platform, locator: fixture.locator).launch(
                SignedManifest(contentsOf: path), standardStreams: StandardStreams(output: .null, error: .null))
        }
        #expect(error?.code == .inputMismatch)
        #expect(error?.path == libraries[libcbor].path)
        #expect(error?.reason.contains("library '\(libraries[libcbor].path)' changed since signing") == true)
    }

    @Test(
        "the enclave reads the library files the loader maps, and nothing else of their directories",
        .enabled(if: Landlock.abiVersion != nil, "needs Landlock"))
    func librariesConfined() throws {
        let fixture = try EchoManifestFixture()
        let enclave = try launch(fixture, on: PlatformFixture().platform)
        let caller = EnclaveCaller(channel: enclave.host)
        let libraries = fixture.signed.libraries
        let libcbor = try #require(libraries.first { $0.path.contains("libcbor") })
        let read = try caller.call("read-file", Array(libcbor.path.utf8))
        #expect(DigestAlgorithm.sha384.hash(read) == libcbor.sha384)
        #expect(try !caller.call("read-file", Array("/etc/ld.so.cache".utf8)).isEmpty)
        // Every directory holding a library or the Swift runtime, and a file in each that the loader does not map.
        let measured = Set(libraries.compactMap { Self.fileIdentity($0.path) })
        let directories = Set(libraries.map { URL(fileURLWithPath: $0.path).deletingLastPathComponent().path })
            .union(["/opt/swift/usr/lib/swift/linux"]).filter { FileManager.default.fileExists(atPath: $0) }
        let neighbours = try directories.compactMap { directory in
            try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map { directory + "/" + $0 }
                .first { path in
                    var status = stat()
                    return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFREG
                        && Self.fileIdentity(path).map { !measured.contains($0) } == true
                }
        }
        #expect(!neighbours.isEmpty)
        let refused = directories.union(neighbours)
        for path in refused.sorted() {
            let error = #expect(throws: EnclaveCallError.self, "\(path)") {
                try caller.call("read-file", Array(path.utf8))
            }
            #expect(error?.reason.contains("errno \(EACCES)") == true, "\(path): \(error?.reason ?? "")")
        }
        #expect(try finish(enclave) == .exited(0))
    }

    /// The (device, inode) of the file at `path`, links followed.
    private static func fileIdentity(_ path: String) -> [UInt64]? {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        return [UInt64(status.st_dev), UInt64(status.st_ino)]
    }

    @Test("changing one byte of a trusted file changes the measurement and the launch is refused")
    func trustedFileChanged() throws {
        let platform = try PlatformFixture().platform
        let fixture = try EchoManifestFixture()
        let file = fixture.directory.appendingPathComponent("data/greeting.txt")
        var bytes = try Data(contentsOf: file)
        bytes[0] ^= 0x01
        try bytes.write(to: file)
        let remeasured = try MeasuredManifest(
            tomlManifestAt: fixture.directory.appendingPathComponent("echo.toml").path, locator: fixture.locator)
        #expect(remeasured.measurement != fixture.signed.measurement)
        let error = #expect(throws: ManifestError.self) { try launch(fixture, on: platform) }
        #expect(error?.code == .inputMismatch)
        #expect(error?.reason.contains("greeting.txt") == true)
    }

    @Test("data sealed by an enclave opens in a later launch of the same enclave and nowhere else")
    func sealingAcrossLaunches() throws {
        let platform = try PlatformFixture().platform
        let fixture = try EchoManifestFixture()
        let first = try launch(fixture, on: platform)
        let blob = try EnclaveCaller(channel: first.host).call("seal", Array("model weights".utf8))
        #expect(try finish(first) == .exited(0))
        let second = try launch(fixture, on: platform)
        #expect(try EnclaveCaller(channel: second.host).call("unseal", blob) == Array("model weights".utf8))
        #expect(try finish(second) == .exited(0))
        let otherEnclave = try EchoManifestFixture(productID: 9, svn: 3)
        let third = try launch(otherEnclave, on: platform)
        #expect(throws: EnclaveCallError.self) { try EnclaveCaller(channel: third.host).call("unseal", blob) }
        #expect(try finish(third) == .exited(0))
        let otherPlatform = try PlatformFixture().platform
        let fourth = try launch(fixture, on: otherPlatform)
        #expect(throws: EnclaveCallError.self) { try EnclaveCaller(channel: fourth.host).call("unseal", blob) }
        #expect(try finish(fourth) == .exited(0))
    }

    @Test("an enclave that dies before the start-up handshake fails the launch")
    func handshakeFailure() throws {
        let platform = try PlatformFixture().platform
        let fixture = try EchoManifestFixture()
        var manifest = fixture.signed.manifest
        manifest.entrypoint = .builtin("no-such-workload")
        let measured = try MeasuredManifest(
            manifest: manifest, executableSHA384: fixture.signed.executableSHA384, libraries: fixture.signed.libraries)
        let key = try ECPrivateKey(generating: .p256)
        let path = fixture.directory.appendingPathComponent("broken.manifest.cose").path
        try SignedManifest(signing: measured, with: key).write(to: path)
        let error = #expect(throws: LaunchError.self) {
            try EnclaveLauncher(platform: platform, locator: fixture.locator).launch(
                SignedManifest(contentsOf: path), standardStreams: StandardStreams(output: .null, error: .null))
        }
        #expect(error?.reason.contains("handshake") == true)
    }

    @Test("after the handshake the platform channel refuses 'hardened' and answers only for the launched identity")
    func platformChannelAfterHandshake() throws {
        let platform = try PlatformFixture().platform
        let fixture = try EchoManifestFixture()
        let record = try launch(fixture, on: platform)
        let service = PlatformEnclaveService(platform: platform, record: record.record)
        #expect(try finish(record) == .exited(0))
        let (enclaveEnd, platformEnd) = try Channel.makePair()
        let server = BackgroundWork { try EnclaveCallServer(channel: platformEnd, ecalls: service.calls).serve() }
        let caller = EnclaveCaller(channel: enclaveEnd)
        let claim = try CBORValue.array([.text("seccomp")]).encoded()
        #expect(throws: EnclaveCallError.self) { try caller.call("hardened", claim) }
        let identity = try EnclaveRecord(encoded: caller.call("identity"))
        #expect(identity.identity == record.record.identity)
        #expect(!identity.mechanisms.contains(.seccomp))
        enclaveEnd.shutdown()
        try server.join()
    }
}
