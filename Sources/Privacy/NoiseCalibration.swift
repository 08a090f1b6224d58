import FoundationEssentials
import Glibc

/// A noise multiplier that keeps `steps` steps at `samplingRate` within `epsilon` at `delta` under `accountant`, and
/// the smallest one to within the bracket it is found in (σ from 0.01 up; the bracket closes to a relative width of
/// 1e-6 in 3 to 9 steps on the accountants' smooth curves, and the search stops after 100 whether or not it has). The σ returned never spends more than the
/// target: it is the upper end of the final bracket, where ε was computed. Where ε does not fall steadily as σ grows
/// (PRV's upper bound steps up by about 0.01 where its mesh coarsens), a smaller σ may also meet the target. A tight
/// accountant's bracket starts from the RDP accountant's σ (milliseconds to find) and closes by the Illinois method,
/// about 8 of its evaluations where bisection took 23. PLD searches on a 2^16 grid: its ε is an upper bound like the default
/// grid's, a little looser (σ larger by ≈ 1e-3 relative), and 16 times faster; PRV searches on its upper bound with
/// a mesh for ε_err = 0.02. Releases that `precede` the steps at a fixed noise (DP-SGD's private feature centre) are
/// composed with them, so σ pays for what is left of the target.
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
                    "what is released before the steps already spends epsilon \(spent) at delta \(delta) (\(accountant.rawValue)), leaving nothing of the target \(target)"
                )
            }
        }
        // Bracket σ: ε(low) > target ≥ ε(high). The RDP accountant's σ (cheap, and never below a tight
        // accountant's in practice) is the first guess for a tight accountant; each guess is checked.
        let smallest = 0.01  // the smallest σ searched
        var (low, high) = (smallest, 1.0)
        if accountant != .rdp,
            let guess = try? noiseMultiplier(
                epsilon: target, delta: delta, samplingRate: samplingRate, steps: steps, after: preceding)
        {
            (low, high) = (max(guess * 0.7, smallest), guess)
        }
        var highEpsilon = try epsilon(high)
        var grownFrom: Double?  // ε at the σ the bracket last grew from, past the target
        // Grow σ until the target is met, up to the largest noise multiplier the accountants take. (A NaN ε, which
        // no accountant should give, counts as past the target throughout.)
        while !(highEpsilon <= target) {
            let largest = SubsampledGaussian.noiseMultiplierRange.upperBound
            guard high < largest else {
                throw PrivacyError(
                    .unreachableTarget,
                    "no noise multiplier up to \(high) keeps \(steps) steps at sampling rate \(samplingRate) within epsilon \(target) at delta \(delta) (\(accountant.rawValue))"
                )
            }
            (low, high, grownFrom) = (high, min(high * 2, largest), highEpsilon)
            highEpsilon = try epsilon(high)
        }
        var lowEpsilon: Double
        if let grownFrom { lowEpsilon = grownFrom } else { lowEpsilon = try epsilon(low) }
        // Shrink σ until the target is missed, down to the smallest σ searched.
        while lowEpsilon <= target {
            guard low > smallest else { return low }
            (high, highEpsilon) = (low, lowEpsilon)
            low = max(low * 0.7, smallest)
            lowEpsilon = try epsilon(low)
        }
        // Illinois (regula falsi that halves the value at an end kept twice) on log ε against log σ, nearly a line:
        // the bracket is kept, and closes from both sides far faster than by bisection.
        func gap(_ spent: Double) -> Double { log(spent / target) }  // ε > 0: `Accountant.epsilon` rounds up
        var (above, below) = (gap(lowEpsilon), gap(highEpsilon))
        enum End { case low, high }
        var kept: End?  // the end the last step kept
        for _ in 0..<100 where (high - low) / high > 1e-6 {
            let (logLow, logHigh) = (log(low), log(high))
            var middle = exp(logHigh - below * (logHigh - logLow) / (below - above))
            if !(middle > low && middle < high) { middle = (low + high) / 2 }
            let value = try epsilon(middle)
            if !(value <= target) {
                (low, above) = (middle, gap(value))
                if kept == .high { below /= 2 }
                kept = .high
            } else {
                (high, below) = (middle, gap(value))
                if kept == .low { above /= 2 }
                kept = .low
            }
        }
        return high
    }
}
