import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

/// The `cloister` executable end to end: host, platform and enclave as three processes.
@Suite("cloister platform, run and verify from the command line")
struct CommandLineTests {
    let cloister = TestEnvironment.productsDirectory + "/cloister"

    /// Runs `cloister` with `--home` placed before any `--` (what follows it goes to the workload).
    private func run(_ arguments: [String], home: String) throws -> ToolOutput {
        let split = arguments.firstIndex(of: "--") ?? arguments.endIndex
        return try runTool(cloister, arguments[..<split] + ["--home", home] + arguments[split...])
    }

    /// A platform home and the echo manifest from Manifests/, signed in a temporary directory.
    private func prepare() throws -> (home: String, manifest: String, directory: URL) {
        let directory = try TestEnvironment.temporaryDirectory("cli")
        let home = directory.appendingPathComponent("home").path
        let manifests = directory.appendingPathComponent("manifests")
        try FileManager.default.copyItem(
            at: TestEnvironment.packageRoot.appendingPathComponent("Manifests"), to: manifests)
        let initialised = try run(["platform", "init", "--amd-key-bits", "2048"], home: home)
        try #require(initialised.status == 0, "\(initialised.standardError)")
        let signed = try runTool(
            cloister,
            [
                "sign", manifests.appendingPathComponent("echo.toml").path, "--key",
                TestEnvironment.packageRoot.appendingPathComponent("Keys/dev-signer.pem").path,
            ])
        try #require(signed.status == 0, "\(signed.standardError)")
        let signedPath = manifests.appendingPathComponent("echo.manifest.cose").path
        let measurement = try #require(
            signed.standardOutput.split(separator: "\n").first { $0.hasPrefix("measurement ") }?.split(separator: " ")
                .last)
        let policy = """
            id = "echo-demo"
            measurements = ["\(measurement)"]
            allow_simulated = true
            allow_development_keys = true
            """
        try Data(policy.utf8).write(to: directory.appendingPathComponent("policy.toml"))
        return (home, signedPath, directory)
    }

    private func policy(_ directory: URL) -> String { directory.appendingPathComponent("policy.toml").path }

    @Test("run launches the echo workload, prints the enclave id and measurement, and writes a quote that verifies")
    func runAndVerify() throws {
        let (home, manifest, directory) = try prepare()
        let quote = directory.appendingPathComponent("quote.cose").path
        let launched = try run(
            ["run", manifest, "--quote-out", quote, "--nonce", "c0ffee", "--user-data", "01", "--", "one", "two"],
            home: home)
        #expect(launched.status == 0, "\(launched.standardError)")
        #expect(launched.standardOutput == "hello from the enclave: one two\n")
        #expect(launched.standardError.contains("cloister: enclave "))
        #expect(launched.standardError.contains("cloister: measurement "))
        let verified = try run(["verify", quote, "--nonce", "c0ffee", "--policy", policy(directory)], home: home)
        #expect(verified.status == 0, "\(verified.standardOutput)")
        #expect(verified.standardOutput.contains("affirming (policy echo-demo)"))
        let json = try run(["verify", quote, "--nonce", "c0ffee", "--policy", policy(directory), "--json"], home: home)
        let report = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        let claims = report?["claims"] as? [String: Any]
        #expect(report?["status"] as? String == "affirming")
        #expect((report?["ear"] as? String)?.split(separator: ".").count == 3)
        #expect(report?["jwks"] != nil)
        #expect(claims?["simulated"] as? Bool == true)
        #expect(claims?["user_data"] as? String == "01")
        let wrongNonce = try run(["verify", quote, "--nonce", "c0ffef", "--policy", policy(directory)], home: home)
        #expect(wrongNonce.status == 2)
        #expect(wrongNonce.standardOutput.contains("FAIL  nonce"))
        let noPolicy = try run(["verify", quote], home: home)
        #expect(noPolicy.status == 2)
        #expect(noPolicy.standardOutput.contains("FAIL  reference-values"))
    }

    @Test("run refuses a TOML manifest (64), a changed trusted file (65) and an insecure home (78)")
    func refusals() throws {
        let (home, manifest, directory) = try prepare()
        let toml = try run(["run", directory.appendingPathComponent("manifests/echo.toml").path], home: home)
        #expect(toml.status == 64)
        #expect(toml.standardError.contains("cloister sign"))
        let greeting = directory.appendingPathComponent("manifests/data/greeting.txt")
        let original = try Data(contentsOf: greeting)
        try Data(original + [0x0a]).write(to: greeting)
        let changed = try run(["run", manifest], home: home)
        #expect(changed.status == 65)
        #expect(changed.standardError.contains("greeting.txt"))
        try original.write(to: greeting)
        chmod(try PlatformHome(path: home).path(of: .attestationKey), 0o640)
        let insecure = try run(["run", manifest], home: home)
        #expect(insecure.status == 78)
        #expect(insecure.standardError.contains("attestation-key.key"))
    }

    @Test("run's memory-lock warning names RLIMIT_MEMLOCK, its value and the bytes the enclave asked to lock")
    func memoryLockWarning() throws {
        let (home, manifest, _) = try prepare()
        let launched = try runTool(
            "/usr/bin/prlimit", ["--memlock=1048576:1048576", cloister, "run", manifest, "--home", home])
        #expect(launched.status == 0, "\(launched.standardError)")
        let isolation = launched.standardError.split(separator: "\n").first { $0.hasPrefix("cloister: isolation ") }
        if isolation?.contains("locked-regions") == true {
            // The launcher could raise the limit for the enclave (CAP_SYS_RESOURCE): nothing to warn about.
            #expect(!launched.standardError.contains("RLIMIT_MEMLOCK"))
        } else {
            let asked = try SignedManifest(contentsOf: manifest).manifest.lockedByteCount
            #expect(
                launched.standardError.contains(
                    "cloister: warning: mlock of \(asked) bytes exceeds RLIMIT_MEMLOCK (1048576 bytes)"),
                "\(launched.standardError)")
            #expect(!launched.standardError.contains("kernel lacks mlock"))
        }
    }

    @Test("run names the file at fault: a missing manifest, a copied manifest's trusted file, a missing allowed path")
    func errorsNameTheFile() throws {
        let (home, manifest, directory) = try prepare()
        let missing = directory.appendingPathComponent("nowhere/echo.manifest.cose").path
        let absent = try run(["run", missing], home: home)
        #expect(absent.status == 65)
        #expect(absent.standardError.contains(missing), "\(absent.standardError)")
        let elsewhere = directory.appendingPathComponent("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let copied = elsewhere.appendingPathComponent("echo.manifest.cose").path
        try FileManager.default.copyItem(atPath: manifest, toPath: copied)
        let moved = try run(["run", copied], home: home)
        #expect(moved.status == 65)
        for part in ["trusted_files[0].uri", "file:data/greeting.txt", elsewhere.path, "cloister sign"] {
            #expect(moved.standardError.contains(part), "\(part) in \(moved.standardError)")
        }
    }

    @Test("measure lists the libraries; run refuses (65) a manifest signed when a library differed, naming it")
    func librariesMeasuredAndChecked() throws {
        let (home, manifest, _) = try prepare()
        let measured = try runTool(cloister, ["measure", "--json", manifest])
        #expect(measured.status == 0, "\(measured.standardError)")
        let report = try JSONSerialization.jsonObject(with: Data(measured.standardOutput.utf8)) as? [String: Any]
        let listed = try #require(report?["libraries"] as? [[String: String]])
        let signed = try SignedManifest(contentsOf: manifest)
        #expect(listed.map { $0["path"] } == signed.libraries.map(\.path))
        #expect(listed.contains { $0["path"] == "/lib64/ld-linux-x86-64.so.2" })
        // The same manifest, signed when its first library had other content.
        var stale = signed.libraries
        stale[0] = LoadedLibrary(path: stale[0].path, sha384: stale[0].sha384.map { ~$0 })
        let key = try ECPrivateKey(
            pemRepresentation: String(
                contentsOf: TestEnvironment.packageRoot.appendingPathComponent("Keys/dev-signer.pem"), encoding: .utf8))
        try SignedManifest(
            signing: MeasuredManifest(
                manifest: signed.manifest, executableSHA384: signed.executableSHA384, libraries: stale),
            with: key
        ).write(to: manifest)
        let refused = try run(["run", manifest], home: home)
        #expect(refused.status == 65)
        #expect(
            refused.standardError.contains("library '\(stale[0].path)' changed since signing"),
            "\(refused.standardError)")
    }

    @Test("platform tcb and revoke change what verify accepts")
    func tcbAndRevoke() throws {
        let (home, manifest, directory) = try prepare()
        let quote = directory.appendingPathComponent("quote.cose").path
        #expect(try run(["run", manifest, "--quote-out", quote], home: home).status == 0)
        let moved = try run(["platform", "tcb", "--level", "2", "--json"], home: home)
        #expect(moved.status == 0)
        #expect(moved.standardOutput.contains(#""tcb_level":2"#))
        let outdated = try run(["verify", quote, "--policy", policy(directory)], home: home)
        #expect(outdated.status == 2)
        #expect(outdated.standardOutput.contains("FAIL  tcb-status-accepted: TCB status out-of-date"))
        let fresh = directory.appendingPathComponent("fresh.cose").path
        #expect(try run(["run", manifest, "--quote-out", fresh], home: home).status == 0)
        #expect(try run(["verify", fresh, "--policy", policy(directory)], home: home).status == 0)
        #expect(try run(["platform", "revoke"], home: home).status == 0)
        let revoked = try run(["verify", fresh, "--policy", policy(directory)], home: home)
        #expect(revoked.status == 2)
        #expect(revoked.standardOutput.contains("FAIL  certificate-chain"))
        let info = try run(["platform", "info", "--json"], home: home)
        #expect(info.standardOutput.contains(#""revoked":true"#))
    }
}
