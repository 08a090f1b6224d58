import Foundation

/// Runs `operation` in growing batches (1, 2, 4, … up to 1024) until `seconds` have passed and returns operations
/// per second: the measurement loop every probe shares, bounded in time.
public func rate(seconds: Double, _ operation: () throws -> Void) rethrows -> Double {
    let clock = ContinuousClock()
    let start = clock.now
    let budget = Duration.milliseconds(Int64(seconds * 1000))
    var count = 0
    var batch = 1
    while clock.now - start < budget {
        for _ in 0..<batch { try operation() }
        count += batch
        batch = min(batch * 2, 1024)
    }
    return Double(count) / (clock.now - start).seconds
}

/// Prints one `name value unit` line, the format the bench scripts read.
public func report(_ name: String, _ value: Double, _ unit: String) {
    print("\(name) \(value) \(unit)")
}

extension Duration {
    /// The duration in seconds.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// A probe's command line, `PROBE [SECONDS_PER_FIGURE [FIGURE]]`: how long each figure is measured, and the one
/// figure to measure when one is named (to profile it).
public struct ProbeArguments: Sendable {
    public let seconds: Double
    public let only: String?

    public init(_ arguments: [String] = CommandLine.arguments) {
        seconds = arguments.dropFirst().first.flatMap(Double.init) ?? 2
        only = arguments.dropFirst(2).first
    }

    /// Reports the rate of `operation` as figure `name`, unless another figure was asked for.
    public func measure(_ name: String, _ operation: () throws -> Void) rethrows {
        guard only == nil || only == name else { return }
        report(name, try rate(seconds: seconds, operation), "op/s")
    }
}

/// The bytes of the test vector `name` under `directory` (relative to the repository root, where the bench scripts
/// run probes); a missing file stops the probe, naming it.
public func vectorBytes(_ directory: String, _ name: String) -> [UInt8] {
    let path = "\(directory)/\(name)"
    guard let data = FileManager.default.contents(atPath: path) else {
        fatalError("the probe reads \(path): run it from the repository root")
    }
    return [UInt8](data)
}
