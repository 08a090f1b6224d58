public import ArgumentParser
import Foundation
import Learning
import Privacy

/// `cloister dp`: differential-privacy arithmetic and private training.
public struct DPCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "dp",
        abstract: "Differential privacy: DP-SGD training, its privacy loss and the noise a target loss needs.",
        subcommands: [
            EpsilonCommand.self, CalibrateCommand.self, TrainCommand.self, AuditCommand.self, SchemaCommand.self,
        ]
    )

    public init() {}
}

extension Accountant: ExpressibleByArgument {}
extension ModelKind: ExpressibleByArgument {}

/// The mechanism options both subcommands share.
struct MechanismOptions: ParsableArguments {
    @Option(
        parsing: .unconditional, help: "Poisson sampling rate q of each step, in (0, 1] (batch size / dataset size).")
    var samplingRate: Double

    @Option(parsing: .unconditional, help: "Number of steps composed, 1 to 2^30.")
    var steps: Int

    @Option(parsing: .unconditional, help: "Target delta, in (0, 1).")
    var delta: Double

    @Option(
        help: """
            The accountant: rdp (Rényi DP at Opacus's orders, Balle et al. 2020 conversion), pld (privacy loss \
            distribution composed by FFT: tight) or prv (privacy random variables, Gopi et al. 2021: the upper \
            bound, within 0.01 of the estimate, as Opacus reports it).
            """)
    var accountant: Accountant = .rdp

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps must be positive, got \(steps)") }
        guard delta > 0, delta < 1 else { throw ValidationError("--delta must be in (0, 1), got \(delta)") }
        guard samplingRate > 0, samplingRate <= 1 else {
            throw ValidationError("--sampling-rate must be in (0, 1], got \(samplingRate)")
        }
    }

    /// The epsilon `noiseMultiplier` spends, by the accountant chosen (with the order attaining it for RDP).
    func epsilon(noiseMultiplier: Double) throws -> AccountedEpsilon {
        let mechanism = try SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: noiseMultiplier)
        return try accountant.epsilon(mechanism, steps: steps, delta: delta)
    }

}

/// Prints `--json` output: one object with sorted keys.
func printJSONFields(_ fields: [String: JSONScalar]) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(fields), as: UTF8.self))
}

/// A number, a string or null in `--json` output.
enum JSONScalar: Encodable {
    case number(Double)
    case text(String)
    case null

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }
}

/// `cloister dp epsilon`: the (ε, δ) spent by T steps of the subsampled Gaussian mechanism.
struct EpsilonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "epsilon",
        abstract: "Print the epsilon spent by STEPS steps of DP-SGD at sampling rate Q and noise multiplier S.",
        discussion: """
            The Poisson-subsampled Gaussian mechanism with add-or-remove-one neighbours, as Opacus and \
            dp-accounting account it. JSON "order" is the RDP order attaining epsilon (null for pld and prv). Exit status: 0 computed, 64 bad arguments, 1 internal error. \
            JSON: {"epsilon", "delta", "accountant", "order"}.
            """
    )

    @OptionGroup var mechanism: MechanismOptions

    @Option(parsing: .unconditional, help: "Noise multiplier sigma (noise std / clipping norm), from 0.0001 to 10^6.")
    var noiseMultiplier: Double

    func run() async throws {
        try reportingErrors {
            let spent = try mechanism.epsilon(noiseMultiplier: noiseMultiplier)
            if mechanism.json {
                try printJSONFields([
                    "epsilon": .number(spent.epsilon), "delta": .number(mechanism.delta),
                    "accountant": .text(spent.accountant.rawValue),
                    "order": spent.order.map(JSONScalar.number) ?? .null,
                ])
            } else {
                let detail = spent.order.map { ", order \($0)" } ?? ""
                print("epsilon \(spent.epsilon) at delta \(mechanism.delta) (\(spent.accountant.rawValue)\(detail))")
            }
        }
    }
}

/// `cloister dp calibrate`: the noise multiplier that spends at most a target epsilon.
struct CalibrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Print the smallest noise multiplier that keeps STEPS steps at sampling rate Q within EPSILON.",
        discussion: """
            A search on sigma (regula falsi, from the RDP accountant's sigma for the tight ones) to a relative \
            precision of 1e-6; the sigma printed never spends more than the target. \
            Exit status: 0 computed, 64 bad arguments, 65 target unreachable, 1 internal error. \
            JSON: {"noise_multiplier", "epsilon", "delta", "accountant"} (epsilon: what that sigma spends).
            """
    )

    @OptionGroup var mechanism: MechanismOptions

    @Option(parsing: .unconditional, help: "Target epsilon, positive.")
    var epsilon: Double

    func validate() throws {
        guard epsilon > 0, epsilon.isFinite else { throw ValidationError("--epsilon must be positive, got \(epsilon)") }
    }

    func run() async throws {
        try reportingErrors {
            let sigma = try NoiseCalibration.noiseMultiplier(
                epsilon: epsilon, delta: mechanism.delta, samplingRate: mechanism.samplingRate, steps: mechanism.steps,
                accountant: mechanism.accountant)
            let spent = try mechanism.epsilon(noiseMultiplier: sigma).epsilon
            if mechanism.json {
                try printJSONFields([
                    "noise_multiplier": .number(sigma), "epsilon": .number(spent), "delta": .number(mechanism.delta),
                    "accountant": .text(mechanism.accountant.rawValue),
                ])
            } else {
                print("noise multiplier \(sigma) (spends epsilon \(spent) at delta \(mechanism.delta))")
            }
        }
    }
}
