import CloisterTestSupport
import Foundation
import Testing

@Suite("cloister dp train from the command line")
struct DPTrainCommandTests {
    let cloister = TestEnvironment.productsDirectory + "/cloister"
    static let datasets = TestEnvironment.packageRoot.appendingPathComponent("Datasets").path
    static let common = [
        "dp", "train", "--label", "label", "--delta", "1e-5", "--epochs", "5", "--batch-size", "32", "--lr", "0.5",
        "--clip", "1",
    ]

    @Test("--json prints accuracy and privacy; --model-out writes the model with its privacy report")
    func trains() throws {
        let directory = try TestEnvironment.temporaryDirectory("dp-train")
        let output = directory.appendingPathComponent("model.json").path
        let result = try runTool(
            cloister,
            Self.common + [
                "--data", "\(Self.datasets)/breast_cancer.csv", "--schema",
                "\(Self.datasets)/breast_cancer.schema.json",
                "--epsilon", "2", "--model-out", output, "--json",
            ])
        #expect(result.status == 0, "\(result.standardError)")
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(
            Set(fields.keys) == [
                "accuracy", "epsilon_pld", "epsilon_rdp", "rdp_order", "delta", "noise_multiplier", "sampling_rate",
                "steps", "centring_noise_multiplier", "model", "train_examples", "test_examples",
                "examples_per_second",
            ])
        #expect(fields["centring_noise_multiplier"] as? Double == 20)
        let epsilon = try #require(fields["epsilon_pld"] as? Double)
        #expect(epsilon <= 2 && epsilon > 1.98)
        #expect(try #require(fields["epsilon_rdp"] as? Double) > epsilon)
        #expect(fields["steps"] as? Int == 70 && fields["train_examples"] as? Int == 455)
        #expect(try #require(fields["accuracy"] as? Double) > 0.85)
        let model = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any])
        #expect((model["privacy"] as? [String: Any])?["epsilonPLD"] as? Double == epsilon)
        #expect(((model["model"] as? [String: Any])?["parameters"] as? [Double])?.count == 31)
        #expect((model["privacy"] as? [String: Any])?["preprocessingNoiseMultiplier"] as? Double == 20)
    }

    @Test("--no-centring releases no centre and spends less noise for the same epsilon")
    func noCentring() throws {
        func train(_ extra: [String]) throws -> [String: Any] {
            let result = try runTool(
                cloister,
                Self.common + [
                    "--data", "\(Self.datasets)/breast_cancer.csv", "--schema",
                    "\(Self.datasets)/breast_cancer.schema.json", "--epsilon", "1", "--json",
                ] + extra)
            #expect(result.status == 0, "\(result.standardError)")
            return try #require(
                try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        }
        let plain = try train(["--no-centring"])
        let centred = try train(["--centring-noise", "10"])
        #expect(plain["centring_noise_multiplier"] is NSNull && centred["centring_noise_multiplier"] as? Double == 10)
        #expect(try #require(plain["noise_multiplier"] as? Double) < #require(centred["noise_multiplier"] as? Double))
    }

    @Test(
        "bad input exits 64 or 65 naming the problem, and writes no model",
        arguments: [
            (["--data", "MALFORMED", "--epsilon", "1"], 65, ":3: 1 cells"),
            (["--data", "BREAST", "--epsilon", "0"], 64, "--epsilon"),
            (["--data", "BREAST", "--epsilon", "1", "--centring-noise", "0"], 64, "--centring-noise"),
            (["--data", "BREAST", "--epsilon", "0.05", "--centring-noise", "2"], 65, "released before the steps"),
            (["--data", "BREAST", "--epsilon", "-1"], 64, "--epsilon"),
            (["--data", "BREAST", "--epsilon", "1", "--noise-multiplier", "1"], 64, "exactly one"),
            (["--data", "BREAST", "--epsilon", "1", "--delta", "0.01"], 64, "delta must be in (0, 1/n)"),
            (["--data", "BREAST", "--noise-multiplier", "0.6", "--max-epsilon", "1"], 65, "past the budget"),
            (["--data", "BREAST", "--epsilon", "1", "--model", "logistic", "--label", "mean_radius"], 65, "label"),
            (["--data", "BREAST", "--epsilon", "1", "--schema", "BADSCHEMA"], 65, "no bounds for feature"),
            (["--data", "HUGELABEL", "--epsilon", "1"], 65, "huge-label.csv:3: label \"label\" is \"10000000\""),
            // Negative numbers are values, refused for their range (they once read as options: "Missing value").
            (["--data", "BREAST", "--epsilon", "1", "--epochs", "-3"], 64, "epochs must be positive, got -3"),
            (["--data", "BREAST", "--epsilon", "1", "--batch-size", "-1"], 64, "batch size must be in 1...455"),
            (["--data", "BREAST", "--epsilon", "1", "--lr", "-0.5"], 64, "learning rate must be positive, got -0.5"),
            (["--data", "BREAST", "--epsilon", "1", "--test-fraction", "-0.2"], 64, "--test-fraction must be in"),
            (["--data", "BREAST", "--epsilon", "1", "--seed", "-1"], 64, "The value '-1' is invalid for '--seed"),
            (
                ["--data", "BREAST", "--noise-multiplier", "1", "--max-epsilon", "-1"], 64,
                "--max-epsilon must be positive"
            ),
            (["--data", "BREAST", "--epsilon", "1", "--model", "mlp", "--hidden-units", "-5"], 64, "hidden unit"),
            // Values that once trapped or allocated without bound.
            (["--data", "BREAST", "--noise-multiplier", "1e-300"], 64, "noise multiplier must be in"),
            (
                ["--data", "BREAST", "--epsilon", "1", "--epochs", "9223372036854775807"], 64,
                "steps the accountants compose"
            ),
            (
                ["--data", "BREAST", "--epsilon", "1", "--model", "mlp", "--hidden-units", "99999999999"], 64,
                "parameters"
            ),
        ])
    func badInput(arguments: [String], status: Int32, message: String) throws {
        let directory = try TestEnvironment.temporaryDirectory("dp-train-bad")
        let malformed = directory.appendingPathComponent("malformed.csv").path
        try "a,label\n1,0\n2\n".write(toFile: malformed, atomically: true, encoding: .utf8)
        let schema = directory.appendingPathComponent("schema.json").path
        try #"{"features": {"mean_radius": [0, 30]}}"#.write(toFile: schema, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("model.json").path
        let hugeLabel = directory.appendingPathComponent("huge-label.csv").path
        try "a,label\n1,0\n2,10000000\n".write(toFile: hugeLabel, atomically: true, encoding: .utf8)
        let substituted = arguments.map {
            [
                "MALFORMED": malformed, "BREAST": "\(Self.datasets)/breast_cancer.csv", "BADSCHEMA": schema,
                "HUGELABEL": hugeLabel,
            ][$0] ?? $0
        }
        // Without a schema the features are declared comparable (`--unscaled`), so each case reaches its own check.
        let bounds = arguments.contains("--schema") ? [] : ["--unscaled"]
        let result = try runTool(cloister, Self.common + substituted + bounds + ["--model-out", output])
        #expect(result.status == status, "\(result.standardError)")
        #expect(result.standardError.contains(message), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).allSatisfy { !$0.hasPrefix(".tmp") })
    }
}

extension DPTrainCommandTests {
    /// Three classes told apart by two features in [0, 1]; a third spans [0, 10⁶] and says nothing of the class.
    static func mixedMagnitudes(in directory: URL) throws -> String {
        var generator = SystemRandomNumberGenerator()
        var lines = ["small_a,small_b,huge_noise,label"]
        for row in 0..<900 {
            let label = row % 3
            let a = (Double(label == 1 ? 1 : 0) * 0.6 + Double.random(in: 0...0.4, using: &generator))
            let b = (Double(label == 2 ? 1 : 0) * 0.6 + Double.random(in: 0...0.4, using: &generator))
            lines.append("\(a),\(b),\(Double.random(in: 0...1_000_000, using: &generator)),\(label)")
        }
        let path = directory.appendingPathComponent("mixed.csv").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(
        "without --schema or --unscaled training refuses (64), naming both and the dp schema command; its draft, filled in, trains"
    )
    func schemaRequired() throws {
        let directory = try TestEnvironment.temporaryDirectory("dp-schema")
        defer { try? FileManager.default.removeItem(at: directory) }
        let data = try Self.mixedMagnitudes(in: directory)
        let plan = Self.common + ["--data", data, "--model", "softmax", "--epsilon", "2", "--json"]
        let refused = try runTool(cloister, plan)
        #expect(refused.status == 64)
        for phrase in ["has no --schema", "--unscaled", "cloister dp schema --data \(data) --label label"] {
            #expect(refused.standardError.contains(phrase), "\(phrase): \(refused.standardError)")
        }
        // A path with a space is quoted, so the suggested command runs as printed.
        let spaced = directory.appendingPathComponent("mixed data.csv").path
        try FileManager.default.copyItem(atPath: data, toPath: spaced)
        let quoted = try runTool(cloister, Self.common + ["--data", spaced, "--epsilon", "2"])
        #expect(quoted.standardError.contains("cloister dp schema --data '\(spaced)' --label label"))
        let both = try runTool(cloister, plan + ["--schema", "x.json", "--unscaled"])
        #expect(both.status == 64 && both.standardError.contains("not both"), "\(both.standardError)")

        let drafted = try runTool(cloister, ["dp", "schema", "--data", data, "--label", "label"])
        #expect(drafted.status == 0, "\(drafted.standardError)")
        #expect(
            drafted.standardOutput
                == """
                {
                  "features": {
                    "small_a": [null, null],
                    "small_b": [null, null],
                    "huge_noise": [null, null]
                  }
                }

                """)
        let draft = directory.appendingPathComponent("draft.json").path
        try drafted.standardOutput.write(toFile: draft, atomically: true, encoding: .utf8)
        let unfilled = try runTool(cloister, plan + ["--schema", draft])
        #expect(
            unfilled.status == 65 && unfilled.standardError.contains("needs [LOW, HIGH]"), "\(unfilled.standardError)")
        let filled = directory.appendingPathComponent("schema.json").path
        try drafted.standardOutput.replacingOccurrences(
            of: "\"huge_noise\": [null, null]", with: "\"huge_noise\": [0, 1000000]"
        )
        .replacingOccurrences(of: "[null, null]", with: "[0, 1]").write(
            toFile: filled, atomically: true, encoding: .utf8)
        let trained = try runTool(cloister, plan + ["--schema", filled])
        #expect(trained.status == 0, "\(trained.standardError)")
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(trained.standardOutput.utf8)) as? [String: Any])
        #expect(try #require(fields["accuracy"] as? Double) > 0.85)
        let noLabel = try runTool(cloister, ["dp", "schema", "--data", data, "--label", "class"])
        #expect(noLabel.status == 65 && noLabel.standardError.contains("no column named \"class\""))
    }
}

extension DPTrainCommandTests {
    @Test("dp audit --json: the accountant's epsilon beside a lower bound under it; bad canaries or confidence exit 64")
    func audit() throws {
        let base = [
            "dp", "audit", "--data", "\(Self.datasets)/breast_cancer.csv", "--label", "label", "--schema",
            "\(Self.datasets)/breast_cancer.schema.json", "--epsilon", "2", "--delta", "1e-5",
        ]
        let result = try runTool(cloister, base + ["--canaries", "500", "--json"])
        #expect(result.status == 0, "\(result.standardError)")
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        #expect(
            Set(fields.keys) == [
                "epsilon", "epsilon_lower", "accountant", "delta", "confidence", "canaries", "guesses", "correct",
                "noise_multiplier", "sampling_rate", "steps", "accuracy", "epsilon_lower_max",
            ])
        let epsilon = try #require(fields["epsilon"] as? Double)
        let lower = try #require(fields["epsilon_lower"] as? Double)
        #expect(epsilon <= 2 && epsilon > 1.98 && lower >= 0 && lower < epsilon, "\(fields)")
        #expect(fields["canaries"] as? Int == 500 && fields["steps"] as? Int == 280)
        #expect(try #require(fields["correct"] as? Int) <= #require(fields["guesses"] as? Int))
        for (extra, message) in [
            (["--canaries", "0"], "--canaries must be in 1...100000"),
            (["--confidence", "1"], "--confidence must be in (0, 1)"),
            (["--epsilon", "8"], "the audit could not catch a trainer that spends more"),
        ] {
            let refused = try runTool(cloister, base + extra)
            #expect(refused.status == 64 && refused.standardError.contains(message), "\(refused.standardError)")
        }
    }
}
