import FoundationEssentials

/// The smallest noise multiplier that keeps `steps` steps at `samplingRate` within `epsilon` at `delta` under
/// `accountant`, found by bisection on σ (ε falls as σ grows), to a relative precision of 1e-6 in σ. The σ returned
/// never exceeds the target: it is the upper end of the final bracket. PLD bisects on a 2^16 grid: its ε is an upper
/// bound like the default grid's, a little looser (σ larger by ≈ 1e-3 relative), and 16 times faster; PRV bisects
/// on its upper bound with a mesh for ε_err = 0.02. Releases that `precede` the steps at a fixed noise (DP-SGD's
/// private feature centre) are composed with them, so σ pays for what is left of the target.
public enum NoiseCalibration {
    public static func noiseMultiplier(
        epsilon target: Double, delta: Double, samplingRate: Double, steps: Int, accountant: Accountant = .rdp,
        after preceding: [RDPAccountant.Composition] = []
    ) throws(PrivacyError) -> Double {
        guard target > 0, target.isFinite else {
            throw PrivacyError(.invalidParameter, "target epsilon must be positive and finite, got \(target)")
        }
        guard steps > 0 else { throw PrivacyError(.invalidParameter, "steps must be positive, got \(steps)") }
        func epsilon(_ sigma: Double) throws(PrivacyError) -> Double {
            let mechanism = try SubsampledGaussian(samplingRate: samplingRate, noiseMultiplier: sigma)
            let all = preceding + [RDPAccountant.Composition(mechanism: mechanism, steps: steps)]
            return try accountant.epsilon(all, delta: delta, coarse: true).epsilon
        }
        if !preceding.isEmpty {
            let spent = try accountant.epsilon(preceding, delta: delta, coarse: true).epsilon
            guard spent < target else {
                throw PrivacyError(
                    .unreachableTarget,
                    "what is released before the steps already spends epsilon \(spent), the whole target \(target)")
            }
        }
        var low = 0.01
        var high = 1.0
        // Bracket: grow σ until the target is met, within the noise multipliers the accountants take.
        while try epsilon(high) > target {
            guard high * 2 <= SubsampledGaussian.noiseMultiplierRange.upperBound else {
                throw PrivacyError(.unreachableTarget, "no noise multiplier up to \(high) reaches epsilon \(target)")
            }
            low = high
            high *= 2
        }
        if try epsilon(low) <= target { return low }
        for _ in 0..<100 where (high - low) / high > 1e-6 {
            let middle = (low + high) / 2
            if try epsilon(middle) > target { low = middle } else { high = middle }
        }
        return high
    }
}
