import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// `cloister run --evidence KIND` end to end: an echo enclave quotes in each kind, `cloister verify` appraises the file
/// against the platform's published trust with a policy written from `cloister measure --json`.
@Suite("cloister run --evidence: every kind of simulated evidence verified from the command line")
struct SimulatedEvidenceCommandTests {
    let cloister = TestEnvironment.productsDirectory + "/cloister"

    private func run(_ arguments: [String], home: String) throws -> ToolOutput {
        let split = arguments.firstIndex(of: "--") ?? arguments.endIndex
        return try runTool(cloister, arguments[..<split] + ["--home", home] + arguments[split...])
    }

    /// A platform, the echo manifest signed, and a policy listing its reference values in every kind's form.
    private func prepare(initOptions: [String] = []) throws -> (home: String, manifest: String, directory: URL) {
        let directory = try TestEnvironment.temporaryDirectory("evidence-cli")
        let home = directory.appendingPathComponent("home").path
        let manifests = directory.appendingPathComponent("manifests")
        try FileManager.default.copyItem(
            at: TestEnvironment.packageRoot.appendingPathComponent("Manifests"), to: manifests)
        try #require(try run(["platform", "init", "--amd-key-bits", "2048"] + initOptions, home: home).status == 0)
        let toml = manifests.appendingPathComponent("echo.toml").path
        let signed = try runTool(
            cloister,
            ["sign", toml, "--key", TestEnvironment.packageRoot.appendingPathComponent("Keys/dev-signer.pem").path])
        try #require(signed.status == 0, "\(signed.standardError)")
        let manifest = manifests.appendingPathComponent("echo.manifest.cose").path
        let measured = try runTool(cloister, ["measure", manifest, "--json"])
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(measured.standardOutput.utf8)) as? [String: Any])
        let measurements = try #require(report["reference_measurements"] as? [String])
        #expect(measurements.count == 2)
        let policy = """
            id = "every-kind"
            measurements = [\(measurements.map { "\"\($0)\"" }.joined(separator: ", "))]
            allow_simulated = true
            allow_development_keys = true
            require_nonce = true
            report_data_binding = "cloister"
            """
        try Data(policy.utf8).write(to: directory.appendingPathComponent("policy.toml"))
        return (home, manifest, directory)
    }

    @Test("each kind's quote file verifies with its nonce, and fails with another")
    func everyKind() throws {
        let (home, manifest, directory) = try prepare()
        let policy = directory.appendingPathComponent("policy.toml").path
        for kind in [
            "cloister", "nitro", "sgx", "sgx-v4", "tdx", "tdx-v5", "tdx-v5-td15", "snp", "snp-v2", "snp-v5", "snp-vlek",
        ] {
            let quote = directory.appendingPathComponent("quote-\(kind)").path
            let launched = try run(
                ["run", manifest, "--evidence", kind, "--quote-out", quote, "--nonce", "c0ffee", "--", "x"], home: home)
            #expect(launched.status == 0, "\(kind): \(launched.standardError)")
            #expect(launched.standardError.contains("(evidence \(kind))"))
            let verified = try run(["verify", quote, "--nonce", "c0ffee", "--policy", policy, "--json"], home: home)
            #expect(verified.status == 0, "\(kind): \(verified.standardOutput)")
            let result = try JSONSerialization.jsonObject(with: Data(verified.standardOutput.utf8)) as? [String: Any]
            let claims = result?["claims"] as? [String: Any]
            #expect(claims?["simulated"] as? Bool == true, "\(kind)")
            let wrong = try run(["verify", quote, "--nonce", "c0ffef", "--policy", policy], home: home)
            #expect(wrong.status == 2, "\(kind)")
            #expect(wrong.standardOutput.contains("FAIL  nonce"), "\(kind)")
        }
        let unknown = try run(["run", manifest, "--evidence", "sgx-v9"], home: home)
        #expect(unknown.status == 64)
    }

    @Test("platform init refuses AMD key sizes and collateral URLs it cannot use (64), naming the option")
    func initRefusals() throws {
        let directory = try TestEnvironment.temporaryDirectory("evidence-init")
        let home = directory.appendingPathComponent("home").path
        for (option, value) in [
            ("--amd-key-bits", "1024"), ("--collateral-url", "ftp://127.0.0.1"),
            ("--collateral-url", "http://127.0.0.1:8080/"), ("--collateral-url", "http://127.0.0.1/a,b"),
        ] {
            let refused = try run(["platform", "init", option, value], home: home)
            #expect(refused.status == 64, "\(option) \(value)")
            #expect(refused.standardError.contains(option), "\(refused.standardError)")
        }
        #expect(!FileManager.default.fileExists(atPath: home), "nothing was created")
    }

    @Test("vendor-roots writes the simulated roots and collateral that verify pins with --trust-anchor")
    func vendorRoots() throws {
        let (home, manifest, directory) = try prepare()
        let roots = directory.appendingPathComponent("roots").path
        let written = try run(["platform", "vendor-roots", "--out", roots, "--json"], home: home)
        #expect(written.status == 0, "\(written.standardError)")
        for name in [
            "intel-sgx-root.pem", "amd-ark-milan.pem", "aws-nitro-root.pem", "intel-sgx-collateral.json",
            "intel-tdx-collateral.json", "amd-milan-certificates.pem", "amd-milan-crl.pem",
        ] {
            #expect(FileManager.default.fileExists(atPath: roots + "/" + name), "\(name)")
        }
        let quote = directory.appendingPathComponent("quote.dcap").path
        #expect(
            try run(["run", manifest, "--evidence", "sgx", "--quote-out", quote, "--nonce", "aa"], home: home).status
                == 0)
        let policy = directory.appendingPathComponent("policy.toml").path
        let pinned = try runTool(
            cloister,
            [
                "verify", quote, "--nonce", "aa", "--policy", policy, "--trust-anchor", roots + "/intel-sgx-root.pem",
                "--collateral", roots + "/intel-sgx-collateral.json", "--home",
                directory.appendingPathComponent("none").path,
            ])
        #expect(pinned.status == 0, "\(pinned.standardOutput)\(pinned.standardError)")
        #expect(pinned.standardOutput.contains("note: simulated evidence"))
        let blocked = try directory.appendingPathComponent("roots-file").path
        try Data().write(to: URL(fileURLWithPath: blocked))
        let refused = try run(["platform", "vendor-roots", "--out", blocked], home: home)
        #expect(refused.status == 73)
        #expect(refused.standardError.contains(blocked))
    }

    @Test("a TCB recovery makes fresh SGX quotes out of date with the advisory; tcb --level brings them back")
    func tcbRecoveryFromTheCommandLine() throws {
        let (home, manifest, directory) = try prepare()
        let policy = directory.appendingPathComponent("policy.toml").path
        let recovered = try run(["platform", "tcb-recovery", "--json"], home: home)
        #expect(recovered.status == 0, "\(recovered.standardError)")
        #expect(recovered.standardOutput.contains(#""latest_tcb_level":2"#))
        let quote = directory.appendingPathComponent("quote.dcap").path
        #expect(
            try run(["run", manifest, "--evidence", "tdx", "--quote-out", quote, "--nonce", "aa"], home: home).status
                == 0)
        let outdated = try run(["verify", quote, "--nonce", "aa", "--policy", policy, "--json"], home: home)
        #expect(outdated.status == 2)
        #expect(outdated.standardOutput.contains("CLOISTER-SA-00002"))
        #expect(try run(["platform", "tcb", "--level", "2"], home: home).status == 0)
        #expect(
            try run(["run", manifest, "--evidence", "tdx", "--quote-out", quote, "--nonce", "aa"], home: home).status
                == 0)
        #expect(try run(["verify", quote, "--nonce", "aa", "--policy", policy], home: home).status == 0)
    }

    /// Starts `cloister serve --collateral` for `home` on `port` of loopback; returns the process and its URL once
    /// it answers.
    private func serveCollateral(home: String, port: Int, directory: URL) throws -> (Process, String) {
        let service = Process()
        service.executableURL = URL(fileURLWithPath: cloister)
        service.arguments = [
            "serve", "--collateral", "--home", home, "--port", "\(port)", "--db",
            "sqlite:" + directory.appendingPathComponent("verifier.sqlite").path,
        ]
        service.standardOutput = FileHandle.nullDevice
        service.standardError = FileHandle.nullDevice
        try service.run()
        let url = "http://127.0.0.1:\(port)"
        for _ in 0..<100 where service.isRunning {
            if try runTool("/usr/bin/curl", ["-sf", "-o", "/dev/null", url + "/healthz"]).status == 0 {
                return (service, url)
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        service.terminate()
        throw CocoaError(
            .fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "cloister serve did not start on port \(port)"])
    }

    @Test(
        "serve --collateral: dcap-qvl's get_collateral and verify --pccs and --kds fetch from the simulated PCS and KDS"
    )
    func collateralServices() throws {
        let port = 20_000 + Int.random(in: 0..<20_000)
        let (home, manifest, directory) = try prepare(initOptions: ["--collateral-url", "http://127.0.0.1:\(port)"])
        let roots = directory.appendingPathComponent("roots").path
        #expect(try run(["platform", "vendor-roots", "--out", roots], home: home).status == 0)
        #expect(try run(["platform", "tcb-recovery"], home: home).status == 0)
        var quotes: [String] = []
        for kind in ["sgx", "tdx", "tdx-v5-td15", "snp"] {
            let quote = directory.appendingPathComponent("quote-\(kind)").path
            let launched = try run(
                ["run", manifest, "--evidence", kind, "--quote-out", quote, "--nonce", "aa"], home: home)
            try #require(launched.status == 0, "\(launched.standardError)")
            quotes.append(quote)
        }
        let (service, url) = try serveCollateral(home: home, port: port, directory: directory)
        defer { service.terminate() }
        // The certificates' CRL distribution points name the service, and it answers them with the CRLs.
        let intelRoot = try X509Certificate(
            pemRepresentation: String(contentsOfFile: roots + "/intel-sgx-root.pem", encoding: .utf8))
        let ask = try #require(
            try X509Certificate.certificates(
                fromPEM: String(contentsOfFile: roots + "/amd-milan-certificates.pem", encoding: .utf8)
            ).first { $0.subject.commonName == "Cloister Simulated SEV-Milan" })
        #expect(intelRoot.crlDistributionPoints == [url + "/sgx/certification/v4/rootcacrl?encoding=der"])
        #expect(ask.crlDistributionPoints == [url + "/vcek/v1/Milan/crl"])
        for point in intelRoot.crlDistributionPoints + ask.crlDistributionPoints {
            let crl = directory.appendingPathComponent("fetched.crl").path
            #expect(try runTool("/usr/bin/curl", ["-sf", "-o", crl, point]).status == 0, "\(point)")
            #expect(try runTool("/usr/bin/openssl", ["crl", "-inform", "DER", "-in", crl, "-noout"]).status == 0)
        }
        let routes = try runTool(
            "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", url + "/sgx/certification/v4/nowhere"])
        #expect(routes.standardOutput == "404")
        // dcap-qvl fetches from the service as from a PCCS, and verifies with the simulated root: OutOfDate after the
        // recovery, with its advisory.
        let root = directory.appendingPathComponent("intel-root.der").path
        let der = try runTool(
            "/usr/bin/openssl", ["x509", "-in", roots + "/intel-sgx-root.pem", "-outform", "DER", "-out", root])
        try #require(der.status == 0)
        let python = try #require(TestEnvironment.python, "make test creates the interop venv (CLOISTER_PYTHON)")
        let fetched = try runTool(
            python,
            [
                TestEnvironment.interopScript("dcap_fetch_simulated.py"), url, root,
                String(Int(Date().timeIntervalSince1970)),
            ]
                + quotes.prefix(3))
        try #require(fetched.status == 0, "\(fetched.standardError)")
        let result = try JSONSerialization.jsonObject(with: Data(fetched.standardOutput.utf8)) as? [String: Any]
        let verdicts = try #require(result?["verdicts"] as? [[String: Any]])
        #expect(verdicts.count == 3)
        for verdict in verdicts {
            #expect(verdict["accepted"] as? Bool == true, "\(verdict)")
            #expect(verdict["status"] as? String == "OutOfDate", "\(verdict)")
            #expect(verdict["advisory_ids"] as? [String] == ["CLOISTER-SA-00002"], "\(verdict)")
        }
        // Cloister's own PCCS and KDS clients fetch from it too.
        let policy = directory.appendingPathComponent("policy.toml").path
        let elsewhere = directory.appendingPathComponent("no-platform").path
        let pccs = try runTool(
            cloister,
            [
                "verify", quotes[0], "--nonce", "aa", "--policy", policy, "--trust-anchor",
                roots + "/intel-sgx-root.pem",
                "--pccs", url, "--pccs-cache", directory.appendingPathComponent("pccs-cache").path, "--home", elsewhere,
                "--json",
            ])
        #expect(pccs.status == 2, "\(pccs.standardError)")
        #expect(pccs.standardOutput.contains("CLOISTER-SA-00002"), "\(pccs.standardOutput)")
        #expect(pccs.standardOutput.contains("tcb-status-accepted"))
        let kds = try runTool(
            cloister,
            [
                "verify", quotes[3], "--nonce", "aa", "--policy", policy, "--trust-anchor",
                roots + "/amd-ark-milan.pem",
                "--kds", url, "--kds-cache", directory.appendingPathComponent("kds-cache").path, "--home", elsewhere,
            ])
        #expect(kds.status == 0, "\(kds.standardOutput)\(kds.standardError)")
        #expect(!kds.standardError.contains("publishes no CRL"))
    }
}
