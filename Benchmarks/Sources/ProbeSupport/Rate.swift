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
