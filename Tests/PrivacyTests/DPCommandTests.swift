import CloisterTestSupport
import Foundation
import Testing

@Suite("cloister dp epsilon and calibrate from the command line")
struct DPCommandTests {
    let cloister = TestEnvironment.productsDirectory + "/cloister"

    @Test("epsilon --json prints epsilon, delta, accountant and order; calibrate round-trips through it")
    func epsilonAndCalibrate() throws {
        let common = ["--sampling-rate", "0.004", "--steps", "3000", "--delta", "1e-5", "--json"]
        let spent = try runTool(cloister, ["dp", "epsilon", "--noise-multiplier", "1.0"] + common)
        #expect(spent.status == 0, "\(spent.standardError)")
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(spent.standardOutput.utf8)) as? [String: Any])
        let epsilon = try #require(fields["epsilon"] as? Double)
        #expect(abs(epsilon - 1.3926007767670858) < 1e-9)
        #expect(fields["order"] as? Double == 10 && fields["accountant"] as? String == "rdp")
        #expect(fields["delta"] as? Double == 1e-5)

        let calibrated = try runTool(cloister, ["dp", "calibrate", "--epsilon", "\(epsilon)"] + common)
        #expect(calibrated.status == 0, "\(calibrated.standardError)")
        let sigma = try #require(
            (try JSONSerialization.jsonObject(with: Data(calibrated.standardOutput.utf8)) as? [String: Any])?[
                "noise_multiplier"] as? Double)
        #expect(abs(sigma - 1.0) < 1e-5)
    }

    @Test(
        "--accountant pld and prv print a tighter epsilon than rdp, within 1 % of the references, and a null order",
        arguments: [("pld", 1.161045964670712), ("prv", 1.1620975578606865)])
    func tight(accountant: String, reference: Double) throws {
        let arguments = [
            "dp", "epsilon", "--noise-multiplier", "1.0", "--sampling-rate", "0.004", "--steps", "3000", "--delta",
            "1e-5",
            "--accountant", accountant, "--json",
        ]
        let result = try runTool(cloister, arguments)
        #expect(result.status == 0, "\(result.standardError)")
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let epsilon = try #require(fields["epsilon"] as? Double)
        #expect(abs(epsilon - reference) / reference < 0.01)
        #expect(epsilon < 1.3926007767670858, "tighter than RDP's ε for the same case")
        #expect(fields["order"] is NSNull && fields["accountant"] as? String == accountant)
    }

    @Test(
        "bad values exit 64 naming the option",
        arguments: [
            (["epsilon", "--noise-multiplier", "0"], "noise multiplier"),
            (["epsilon", "--noise-multiplier", "1", "--accountant", "nope"], "--accountant"),
            (["calibrate", "--epsilon", "-1"], "--epsilon"),
        ])
    func badValues(arguments: [String], named: String) throws {
        let common = ["--sampling-rate", "0.01", "--steps", "100", "--delta", "1e-5"]
        let result = try runTool(cloister, ["dp"] + arguments + common)
        #expect(result.status == 64)
        #expect(result.standardError.contains(named), "\(result.standardError)")
    }

    @Test(
        "a negative, out-of-range or unrepresentable number exits 64 saying which and why (not \"Missing value\")",
        arguments: [
            (["epsilon", "--steps", "-5"], "--steps must be positive, got -5"),
            (["epsilon", "--sampling-rate", "-0.5"], "--sampling-rate must be in (0, 1], got -0.5"),
            (["epsilon", "--delta", "-1e-5"], "--delta must be in (0, 1), got -1e-05"),
            (["epsilon", "--noise-multiplier", "-1"], "noise multiplier must be in [0.0001, 1000000.0], got -1.0"),
            (["epsilon", "--noise-multiplier", "1e300", "--accountant", "pld"], "got 1e+300"),
            (["epsilon", "--noise-multiplier", "1e-300"], "got 1e-300"),
            (["epsilon", "--noise-multiplier", "nan"], "got nan"),
            (["epsilon", "--steps", "1073741825"], "steps must be in 0...1073741824 (2^30), got 1073741825"),
            (
                ["epsilon", "--steps", "99999999999999999999"],
                "The value '99999999999999999999' is invalid for '--steps"
            ),
            (["calibrate", "--epsilon", "-2"], "--epsilon must be positive, got -2.0"),
            (["calibrate", "--epsilon", "1", "--steps", "-1"], "--steps must be positive, got -1"),
        ])
    func negativeAndOutOfRange(arguments: [String], message: String) throws {
        var full = ["dp"] + arguments
        for (option, value) in [
            ("--sampling-rate", "0.01"), ("--steps", "100"), ("--delta", "1e-5"), ("--noise-multiplier", "1"),
        ] where !arguments.contains(option) && (option != "--noise-multiplier" || arguments[0] == "epsilon") {
            full += [option, value]
        }
        let result = try runTool(cloister, full)
        #expect(result.status == 64, "\(full): \(result.standardError)")
        #expect(result.standardError.contains(message), "\(result.standardError)")
        #expect(!result.standardError.contains("Missing value"))
    }

    @Test("delta outside (0, 1) and a sampling rate above 1 are usage errors")
    func outOfRange() throws {
        for (option, value) in [("--delta", "1"), ("--sampling-rate", "1.5"), ("--steps", "0")] {
            var arguments = [
                "dp", "epsilon", "--noise-multiplier", "1", "--sampling-rate", "0.01", "--steps", "100",
                "--delta", "1e-5",
            ]
            let index = try #require(arguments.firstIndex(of: option))
            arguments[index + 1] = value
            let result = try runTool(cloister, arguments)
            #expect(result.status == 64, "\(option) \(value)")
            #expect(result.standardError.contains(option))
        }
    }
}
