import CloisterCrypto
import CloisterTestSupport
import Federated
import Foundation
import Learning
import Testing

@Suite("cloister fl serve, client and simulate")
struct FLCommandTests {
    let cloister = cloisterExecutable
    let datasets = TestEnvironment.packageRoot.appendingPathComponent("Datasets").path

    /// A platform home and the fedavg manifest signed into a temporary directory, through the CLI.
    func prepare() throws -> (directory: URL, environment: [String: String], manifest: String) {
        try signedManifestThroughCLI("fedavg")
    }

    func run(_ arguments: [String], _ environment: [String: String]) throws -> ToolOutput {
        try runCloister(arguments, environment)
    }

    @Test("simulate: DP-FedAvg on a Dirichlet split prints the accountant's epsilon, writes metrics CSV and SVG")
    func simulate() throws {
        let (directory, environment, manifest) = try prepare()
        let metrics = directory.appendingPathComponent("rounds.csv").path
        let plot = directory.appendingPathComponent("rounds.svg").path
        let output = try run(
            [
                "fl", "simulate", "--data", "\(datasets)/breast_cancer.csv", "--label", "label", "--schema",
                "\(datasets)/breast_cancer.schema.json", "--clients", "5", "--rounds", "3", "--partition",
                "dirichlet:1", "--dp-noise-multiplier", "0.8", "--clip", "1", "--delta", "1e-3", "--manifest",
                manifest, "--metrics", metrics, "--plot", plot, "--json",
            ], environment)
        #expect(output.status == 0, "\(output.standardError)")
        let result = try #require(
            try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any])
        #expect(result["rounds"] as? Int == 3 && result["clients"] as? Int == 5)
        // Every client is in every round: the most-sampled client has been in 3.
        let expected = try ClientLevelPrivacy(
            noiseMultiplier: 0.8, clip: 1, delta: 1e-3, clientsPerRound: 5, registeredClients: 5
        ).report(participations: 3)
        let report = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(expected)) as? [String: Any])
        #expect(result["epsilon_pld"] as? Double == report["epsilonPLD"] as? Double)
        #expect(result["epsilon_rdp"] as? Double == report["epsilonRDP"] as? Double)
        #expect((result["accuracy"] as? Double ?? 0) > 0.5)
        let rows = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n")
        #expect(rows.count == 4 && rows[0].hasPrefix("round,participants,accuracy,epsilon_pld,epsilon_rdp,delta"))
        let lastRound = try #require(rows.last).split(separator: ",", omittingEmptySubsequences: false)
        #expect(lastRound.count == 7 && Double(lastRound[5]) == 1e-3)
        #expect(Double(lastRound[3]) == report["epsilonPLD"] as? Double)
        #expect(Double(lastRound[4]) == report["epsilonRDP"] as? Double)
        let svg = try String(contentsOfFile: plot, encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.components(separatedBy: "<polyline").count == 3)
    }

    @Test(
        "simulate: sampled cohorts, a server optimizer and adaptive clipping; epsilon is the plain z mechanism's, unamplified"
    )
    func simulateCohortsOptimizerAdaptiveClip() throws {
        let (_, environment, manifest) = try prepare()
        let output = try run(
            [
                "fl", "simulate", "--data", "\(datasets)/breast_cancer.csv", "--label", "label", "--schema",
                "\(datasets)/breast_cancer.schema.json", "--clients", "5", "--rounds", "3", "--clients-per-round", "4",
                "--server-optimizer", "fedadam", "--dp-noise-multiplier", "0.8", "--clip", "1", "--delta", "1e-3",
                "--adaptive-clip", "--count-noise", "1", "--manifest", manifest, "--json",
            ], environment)
        #expect(output.status == 0, "\(output.standardError)")
        let result = try #require(
            try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any])
        #expect(result["rounds"] as? Int == 3)
        // The cohorts are drawn inside the enclave: the most-sampled client was in 1 to 3 of the 3 rounds (0 only if
        // every cohort was empty), and the report is the unamplified one for that count.
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 0.8, clip: 1, delta: 1e-3, clientsPerRound: 4, registeredClients: 5)
        let candidates = try (0...3).map { rounds in
            let report = try JSONEncoder().encode(privacy.report(participations: rounds))
            return (try JSONSerialization.jsonObject(with: report) as? [String: Any])?["epsilonPLD"] as? Double
        }
        #expect(candidates.contains(result["epsilon_pld"] as? Double), "\(result["epsilon_pld"] ?? "none")")
    }

    @Test("simulate: 1,000 clients × 5 rounds on mnist_5k, every sampled client's update in every round")
    func thousandClients() throws {
        let (directory, environment, manifest) = try prepare()
        let metrics = directory.appendingPathComponent("rounds.csv").path
        let output = try run(
            [
                "fl", "simulate", "--data", "\(datasets)/mnist_5k.csv", "--label", "label", "--schema",
                "\(datasets)/mnist_5k.schema.json", "--clients", "1000", "--rounds", "5", "--lr", "0.1",
                "--manifest", manifest, "--metrics", metrics,
            ], environment)
        #expect(output.status == 0, "\(output.standardError.suffix(2000))")
        let rows = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n").dropFirst()
        #expect(rows.count == 5, "\(rows)")
        for row in rows {
            let columns = row.split(separator: ",", omittingEmptySubsequences: false)
            #expect(columns.count == 7 && columns[1] == "1000", "every client's update is in every round: \(row)")
        }
        let accuracy = rows.last.flatMap { Double($0.split(separator: ",")[2]) } ?? 0
        #expect(accuracy > 0.6, "softmax on 4 examples a client, 5 rounds: \(accuracy)")
    }

    @Test("simulate stops promptly at SIGTERM, whatever its size, with exit 143")
    func stopsAtSignal() throws {
        let (_, environment, manifest) = try prepare()
        let simulation = Process()
        simulation.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        simulation.arguments =
            environment.map { "\($0.key)=\($0.value)" } + [
                cloister, "fl", "simulate", "--data", "\(datasets)/mnist_5k.csv", "--label", "label", "--schema",
                "\(datasets)/mnist_5k.schema.json", "--clients", "2000", "--partition", "sample:8", "--rounds", "1000",
                "--manifest", manifest,
            ]
        let errors = Pipe()
        simulation.standardOutput = FileHandle.nullDevice
        simulation.standardError = errors
        try simulation.run()
        defer { if simulation.isRunning { simulation.interrupt() } }
        // Bounded: the first round's progress line, or 60 s (the pipe read without blocking).
        let descriptor = errors.fileHandleForReading.fileDescriptor
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        let started = Date()
        var seen = ""
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date().timeIntervalSince(started) < 60, !seen.contains("round 1:") {
            let count = read(descriptor, &buffer, buffer.count)
            if count > 0 { seen += String(decoding: buffer[0..<count], as: UTF8.self) } else { usleep(50_000) }
        }
        #expect(seen.contains("round 1:"), "\(seen.suffix(1000))")
        kill(simulation.processIdentifier, SIGTERM)
        let signalled = Date()
        while simulation.isRunning, Date().timeIntervalSince(signalled) < 20 { usleep(50_000) }
        #expect(!simulation.isRunning, "still running 20 s after SIGTERM")
        #expect(Date().timeIntervalSince(signalled) < 10, "stopping took \(Date().timeIntervalSince(signalled)) s")
        simulation.waitUntilExit()
        #expect(simulation.terminationStatus == 143)
    }

    @Test("before signing, simulate, client and dp train name the manifest, the directory and the command to run")
    func unsignedManifest() throws {
        let directory = try TestEnvironment.temporaryDirectory("unsigned")
        let data = [
            "--data", "\(datasets)/breast_cancer.csv", "--label", "label", "--schema",
            "\(datasets)/breast_cancer.schema.json",
        ]
        for (arguments, manifest, option) in [
            (["fl", "simulate"] + data, "Manifests/fedavg.manifest.cose", "--manifest"),
            (
                [
                    "fl", "client", "--server", "http://127.0.0.1:9", "--key", "k.pem", "--manifest",
                    "fedavg.manifest.cose",
                ]
                    + data, "fedavg.manifest.cose", "--manifest"
            ),
            (
                [
                    "dp", "train", "--enclave", "Manifests/dpsgd.manifest.cose", "--epsilon", "1", "--delta", "1e-5",
                    "--epochs", "1", "--batch-size", "32", "--lr", "0.3", "--clip", "1",
                ] + data, "Manifests/dpsgd.manifest.cose", "--enclave"
            ),
        ] {
            let home = ["CLOISTER_HOME=" + directory.appendingPathComponent("home").path]
            let output = try runTool("/usr/bin/env", ["-C", directory.path] + home + [cloister] + arguments)
            let toml = manifest.replacingOccurrences(of: ".manifest.cose", with: ".toml")
            #expect(output.status == 65, "\(arguments): \(output.standardError)")
            #expect(
                output.standardError.contains(
                    "error: \(option) \(manifest): no signed manifest at \(directory.path)/\(manifest) (resolved against the working directory \(directory.path)); sign it first: cloister sign \(toml) --key Keys/dev-signer.pem"
                ), "\(output.standardError)")
            #expect(!output.standardError.contains("errno"))
        }
    }

    @Test("negative and out-of-range numbers exit 64 naming the option or parameter, before anything runs")
    func numericOptions() throws {
        let (_, environment, manifest) = try prepare()
        let simulate = [
            "fl", "simulate", "--data", "\(datasets)/breast_cancer.csv", "--label", "label", "--manifest", manifest,
            "--schema", "\(datasets)/breast_cancer.schema.json",
        ]
        for (extra, message) in [
            (["--clients", "-2"], "--clients must be positive"),
            (["--rounds", "-1"], "rounds must be positive, got -1"),
            (["--round-timeout", "-5"], "the round timeout must be positive, got -5.0"),
            (["--seed", "-1"], "The value '-1' is invalid for '--seed"),
            (["--local-epochs", "-1"], "local epochs and batch size must be positive"),
            (["--lr", "-0.5"], "learning rate must be positive, got -0.5"),
            (["--dp-noise-multiplier", "-1", "--clip", "1", "--delta", "1e-3"], "noise multiplier must be in"),
            (["--dp-noise-multiplier", "1", "--clip", "-1", "--delta", "1e-3"], "clipping norm must be positive"),
            (["--dp-noise-multiplier", "1", "--clip", "1", "--delta", "-1e-3"], "delta must be in (0, 1/N]"),
            (["--clients-per-round", "6"], "clients per round must be in 1...5 (the registered clients), got 6"),
            (["--server-optimizer", "fedadam:0.1:1.5"], "beta1 of FedAdam must be in [0, 1), got 1.5"),
            (["--server-optimizer", "fedavgm:1:0:2"], "fedavgm takes LR:MOMENTUM"),
            (["--adaptive-clip"], "--adaptive-clip, --target-quantile, --clip-learning-rate and --count-noise go with"),
            (
                ["--dp-noise-multiplier", "1", "--clip", "1", "--delta", "1e-3", "--count-noise", "1"],
                "--target-quantile, --clip-learning-rate and --count-noise go with --adaptive-clip"
            ),
            (
                ["--dp-noise-multiplier", "1", "--clip", "1", "--delta", "1e-3", "--adaptive-clip"],
                "the count noise of adaptive clipping must exceed z/2 = 0.5 to leave the update any of the noise multiplier 1.0, got 0.25"
            ),
            (
                [
                    "--dp-noise-multiplier", "1", "--clip", "1", "--delta", "1e-3", "--adaptive-clip", "--count-noise",
                    "1", "--target-quantile", "1.5",
                ], "the target quantile of adaptive clipping must be in [0, 1], got 1.5"
            ),
        ] {
            let output = try run(simulate + extra, environment)
            #expect(output.status == 64, "\(extra): \(output.standardError)")
            #expect(output.standardError.contains(message), "\(extra): \(output.standardError)")
            #expect(!output.standardError.contains("Missing value"))
        }
        let client = try run(
            [
                "fl", "client", "--server", "http://127.0.0.1:9", "--key", "k.pem", "--data", "d.csv", "--label", "l",
                "--unscaled", "--timeout", "-1",
            ], environment)
        #expect(client.status == 64 && client.standardError.contains("--timeout must be positive, got -1.0"))
    }

    @Test("serve and two clients over loopback: both finish every round (exit 0); a wrong measurement exits 2")
    func serveAndClients() throws {
        let (directory, environment, manifest) = try prepare()
        var entries: [[String: String]] = []
        for index in 0..<2 {
            let key = try ECPrivateKey(generating: .p256)
            try key.pkcs8PEMRepresentation.write(
                toFile: directory.appendingPathComponent("client\(index).pem").path, atomically: true, encoding: .utf8)
            entries.append(["id": "client-\(index)", "public_key": key.publicKey.pemRepresentation])
        }
        let registry = directory.appendingPathComponent("clients.json").path
        try JSONSerialization.data(withJSONObject: ["clients": entries]).write(to: URL(fileURLWithPath: registry))
        let csv = try String(contentsOfFile: "\(datasets)/breast_cancer.csv", encoding: .utf8).split(separator: "\n")
        for index in 0..<2 {
            let rows = [csv[0]] + csv.dropFirst().enumerated().filter { $0.offset % 2 == index }.map(\.element)
            try (rows.joined(separator: "\n") + "\n").write(
                toFile: directory.appendingPathComponent("data\(index).csv").path, atomically: true, encoding: .utf8)
        }
        let port = String(20_000 + Int.random(in: 0..<20_000))
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments =
            environment.map { "\($0.key)=\($0.value)" } + [
                cloister, "fl", "serve", "--manifest", manifest, "--clients", registry, "--port", port, "--rounds",
                "2", "--features", "30", "--exit-when-finished",
            ]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { if server.isRunning { server.terminate() } }
        func clientArguments(_ index: Int) -> [String] {
            [
                "fl", "client", "--server", "http://127.0.0.1:\(port)", "--key",
                directory.appendingPathComponent("client\(index).pem").path, "--data",
                directory.appendingPathComponent("data\(index).csv").path, "--label", "label", "--schema",
                "\(datasets)/breast_cancer.schema.json", "--allow-development-keys", "--json", "--timeout", "120",
            ]
        }
        // Wait (bounded) for the host to listen: a client refused for its policy shows it is up.
        var refused: ToolOutput?
        for _ in 0..<100 {
            let attempt = try run(
                clientArguments(0) + ["--measurement", String(repeating: "00", count: 48)], environment)
            if attempt.status == 2 {
                refused = attempt
                break
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(refused?.standardError.contains("refused under policy") == true)
        let secondOutput = directory.appendingPathComponent("client1.json")
        FileManager.default.createFile(atPath: secondOutput.path, contents: nil)
        let second = Process()
        second.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        second.arguments =
            environment.map { "\($0.key)=\($0.value)" } + [cloister] + clientArguments(1) + ["--manifest", manifest]
        // Client 1 names no --id: the federation's registry finds it by its key.
        second.standardOutput = try FileHandle(forWritingTo: secondOutput)
        second.standardError = FileHandle.nullDevice
        try second.run()
        let first = try run(clientArguments(0) + ["--manifest", manifest, "--id", "client-0"], environment)
        second.waitUntilExit()
        #expect(first.status == 0, "\(first.standardError)")
        #expect(second.terminationStatus == 0)
        let results = try [first.standardOutput, String(contentsOf: secondOutput, encoding: .utf8)].map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(
            results.allSatisfy { $0["rounds"] as? Int == 2 && $0["finish_reason"] as? String == "all 2 rounds ran" })
        server.waitUntilExit()
        #expect(server.terminationStatus == 0)
    }

    @Test("simulate --verifier: every client attests through the verifier service; its policy decides (exit 2)")
    func throughVerifierService() throws {
        let (directory, environment, manifest) = try prepare()
        let token = directory.appendingPathComponent("token").path
        try String(repeating: "t", count: 32).write(toFile: token, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: token)
        let port = 20_000 + Int.random(in: 0..<20_000)
        let service = Process()
        service.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        service.arguments =
            environment.map { "\($0.key)=\($0.value)" } + [
                cloister, "serve", "--port", "\(port)", "--admin-token-file", token, "--db",
                "sqlite:" + directory.appendingPathComponent("verifier.sqlite").path,
            ]
        service.standardOutput = FileHandle.nullDevice
        service.standardError = FileHandle.nullDevice
        try service.run()
        defer { service.terminate() }
        let measurement = try #require(
            try run(["measure", manifest], environment).standardOutput.split(separator: "\n").first.map(String.init))
        func provision(_ id: String, measurement: String) throws -> Int32 {
            let policy = """
                id = "\(id)"
                measurements = ["\(measurement)"]
                allow_simulated = true
                allow_development_keys = true
                require_nonce = true
                max_age_seconds = 300
                """
            return try runTool(
                "/usr/bin/curl",
                [
                    "-sf", "-X", "PUT", "http://127.0.0.1:\(port)/v1/policies/\(id)", "-H",
                    "Authorization: Bearer \(String(repeating: "t", count: 32))", "--data-binary", policy,
                ]
            ).status
        }
        var provisioned: Int32 = -1
        for _ in 0..<100 where provisioned != 0 {
            provisioned = try provision("fedavg", measurement: measurement)
            if provisioned != 0 { Thread.sleep(forTimeInterval: 0.2) }
        }
        #expect(provisioned == 0)
        #expect(try provision("other", measurement: String(repeating: "ab", count: 48)) == 0)
        func simulate(_ policy: String) throws -> ToolOutput {
            try run(
                [
                    "fl", "simulate", "--data", "\(datasets)/breast_cancer.csv", "--label", "label", "--clients", "2",
                    "--schema", "\(datasets)/breast_cancer.schema.json",
                    "--rounds", "1", "--manifest", manifest, "--verifier", "http://127.0.0.1:\(port)",
                    "--verifier-policy", policy, "--json",
                ], environment)
        }
        let accepted = try simulate("fedavg")
        #expect(accepted.status == 0, "\(accepted.standardError)")
        // A TDX-shaped aggregator: the service reads the bound evidence through its registry; MRTD is the measurement.
        let tdx = try run(
            [
                "fl", "simulate", "--data", "\(datasets)/breast_cancer.csv", "--label", "label", "--clients", "2",
                "--schema", "\(datasets)/breast_cancer.schema.json",
                "--rounds", "1", "--manifest", manifest, "--verifier", "http://127.0.0.1:\(port)",
                "--verifier-policy", "fedavg", "--evidence", "tdx", "--json",
            ], environment)
        #expect(tdx.status == 0, "\(tdx.standardError)")
        let refused = try simulate("other")
        #expect(refused.status == 2)
        #expect(refused.standardError.contains("contraindicated"), "\(refused.standardError)")
    }
}
