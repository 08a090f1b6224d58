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
        let result = try runTool(cloister, Self.common + substituted + ["--model-out", output])
        #expect(result.status == status, "\(result.standardError)")
        #expect(result.standardError.contains(message), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: output))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: directory.path).allSatisfy { !$0.hasPrefix(".tmp") })
    }
}
