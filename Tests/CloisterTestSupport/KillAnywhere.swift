public import Foundation

/// One run of `cloister` that `killAnywhere` SIGKILLed: when, whether it had already ended, and the state its files
/// were read in afterwards.
public struct KilledRun: Sendable {
    public let run: Int
    public let delay: TimeInterval
    /// The run's exit status when it ended before its kill; nil when the kill ended it.
    public let exitStatus: Int32?
    /// What `classify` read.
    public let state: KilledState
}

/// The state a killed run left its files in, as a test's `classify` reads them.
public enum KilledState: Sendable {
    /// Nothing written: the run left no file (a checkpoint not yet made).
    case absent
    /// The files as they were before the run.
    case old
    /// The files as the run makes them, whole.
    case new
    /// The run ended before its kill, and ended well.
    case finished
    /// Anything else: a partial, unreadable or wrong file, or a run that ended badly. A test fails on any.
    case broken
}

/// Runs `cloister` with `arguments()` (and `environment` added to this process's) `runs` times, SIGKILLing each after a
/// delay drawn uniformly from zero to 1.2 times `duration()`, the time an uninterrupted run takes now (which `classify`
/// may update from a run it makes). After each, `classify` is given the exit status of a run that ended before its
/// kill (nil when the kill ended it) and reads the state left behind. Which states occur depends on the machine's load.
public func killAnywhere(
    runs: Int, duration: () -> TimeInterval, environment: [String: String] = [:], _ arguments: () -> [String],
    classify: (_ exitStatus: Int32?) throws -> KilledState
) throws -> [KilledRun] {
    var random = SystemRandomNumberGenerator()
    var kills: [KilledRun] = []
    for run in 1...runs {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cloisterExecutable)
        process.arguments = arguments()
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let delay = Double.random(in: 0...(duration() * 1.2), using: &random)
        try process.run()
        usleep(useconds_t(delay * 1_000_000))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let exitStatus = process.terminationReason == .exit ? process.terminationStatus : nil
        kills.append(KilledRun(run: run, delay: delay, exitStatus: exitStatus, state: try classify(exitStatus)))
    }
    return kills
}

extension [KilledRun] {
    /// The count of each state, then every kill's delay and state (and the exit status of a run that ended before
    /// its kill), to replay a failure: "new 3, old 9; 812 ms old, 6130 ms finished (exit 0), …".
    public var summary: String {
        let counts = Dictionary(grouping: self, by: \.state).map { "\($0.key) \($0.value.count)" }.sorted()
        let kills = map { kill in
            "\(Int(kill.delay * 1000)) ms \(kill.state)" + (kill.exitStatus.map { " (exit \($0))" } ?? "")
        }
        return counts.joined(separator: ", ") + "; " + kills.joined(separator: ", ")
    }

    /// The kills whose state is `state`, as "run N, killed after M ms".
    public func runs(in state: KilledState) -> [String] {
        filter { $0.state == state }.map { "run \($0.run), killed after \(Int($0.delay * 1000)) ms" }
    }
}
