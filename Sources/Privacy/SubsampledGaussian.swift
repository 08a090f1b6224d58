import FoundationEssentials
import Glibc

/// The Poisson-subsampled Gaussian mechanism: each record joins a step with probability `samplingRate`, and the
/// step adds Gaussian noise of standard deviation `noiseMultiplier` × the L2 sensitivity (add-or-remove-one
/// neighbours).
public struct SubsampledGaussian: Sendable, Hashable {
    public let samplingRate: Double
    public let noiseMultiplier: Double

    /// The noise multipliers the accountants are checked over: below 10^-4 one step spends ε in the tens of
    /// millions, above 10^6 next to nothing, and past either end their numerics leave the range they are exact in.
    public static let noiseMultiplierRange = 0.0001...1_000_000.0

    /// Checks 0 < q ≤ 1 and σ in `noiseMultiplierRange`.
    public init(samplingRate: Double, noiseMultiplier: Double) throws(PrivacyError) {
        guard samplingRate > 0, samplingRate <= 1 else {
            throw PrivacyError(.invalidParameter, "sampling rate must be in (0, 1], got \(samplingRate)")
        }
        let range = Self.noiseMultiplierRange
        guard range.contains(noiseMultiplier) else {
            throw PrivacyError(
                .invalidParameter,
                "noise multiplier must be in [\(range.lowerBound), \(range.upperBound)], got \(noiseMultiplier)")
        }
        self.samplingRate = samplingRate
        self.noiseMultiplier = noiseMultiplier
    }

    /// The Rényi DP of one step at `order` α > 1 (Mironov, Talwar and Zhang 2019, "Rényi Differential Privacy of
    /// the Sampled Gaussian Mechanism", §3.3): log(A_α) / (α − 1), with A_α summed exactly — a finite binomial sum
    /// for integer α, the two-sided series of their Theorem 9 for fractional α (summed until terms fall below
    /// e^−30 relative to nothing, as the reference implementations do). Without subsampling it is α / (2σ²).
    public func renyiDivergence(order alpha: Double) -> Double {
        precondition(alpha > 1, "RDP orders are above 1")
        let sigma = noiseMultiplier
        if samplingRate == 1 { return alpha / (2 * sigma * sigma) }
        if alpha.isInfinite { return .infinity }
        let logA = alpha == alpha.rounded() ? logAInteger(Int(alpha)) : logAFractional(alpha)
        return logA / (alpha - 1)
    }

    /// log A_α for integer α: log Σ_i C(α, i) q^i (1 − q)^(α−i) e^((i² − i) / 2σ²).
    private func logAInteger(_ alpha: Int) -> Double {
        let q = samplingRate
        let sigmaSquared = noiseMultiplier * noiseMultiplier
        var logA = -Double.infinity
        for i in 0...alpha {
            let logBinomial = lgamma(Double(alpha) + 1) - lgamma(Double(i) + 1) - lgamma(Double(alpha - i) + 1)
            let term =
                logBinomial + Double(i) * log(q) + Double(alpha - i) * log1p(-q)
                + Double(i * i - i) / (2 * sigmaSquared)
            logA = LogSpace.add(logA, term)
        }
        return logA
    }

    /// log A_α for fractional α: the series of Mironov et al. split at z₀ = σ² log(1/q − 1) + 1/2, each half
    /// weighted by the Gaussian tail mass beyond z₀; binomial coefficients of a real α may be negative.
    private func logAFractional(_ alpha: Double) -> Double {
        let q = samplingRate
        let sigma = noiseMultiplier
        let sigmaSquared = sigma * sigma
        var logA0 = -Double.infinity
        var logA1 = -Double.infinity
        let z0 = sigmaSquared * log(1 / q - 1) + 0.5
        var coefficient = 1.0  // C(α, i), by the recurrence C(α, i+1) = C(α, i) (α − i) / (i + 1)
        var i = 0.0
        // Bounded: the terms fall below e^−30 long before this many (they decay like e^(−i²/2σ²) eventually).
        for _ in 0..<100_000 {
            let logCoefficient = log(abs(coefficient))
            let j = alpha - i
            let logT0 = logCoefficient + i * log(q) + j * log1p(-q)
            let logT1 = logCoefficient + j * log(q) + i * log1p(-q)
            let logE0 = log(0.5) + LogSpace.logErfc((i - z0) / (sqrt(2) * sigma))
            let logE1 = log(0.5) + LogSpace.logErfc((z0 - j) / (sqrt(2) * sigma))
            let logS0 = logT0 + (i * i - i) / (2 * sigmaSquared) + logE0
            let logS1 = logT1 + (j * j - j) / (2 * sigmaSquared) + logE1
            if coefficient > 0 {
                logA0 = LogSpace.add(logA0, logS0)
                logA1 = LogSpace.add(logA1, logS1)
            } else {
                // At extreme orders the alternating terms cancel below a double's precision and the partial sum
                // would go negative: this order then bounds nothing (∞), which the conversion skips, never a
                // false, finite bound.
                guard logA0 >= logS0, logA1 >= logS1 else { return .infinity }
                logA0 = LogSpace.subtract(logA0, logS0)
                logA1 = LogSpace.subtract(logA1, logS1)
            }
            if max(logS0, logS1) < -30 { break }
            coefficient *= (alpha - i) / (i + 1)
            i += 1
        }
        return LogSpace.add(logA0, logA1)
    }
}
