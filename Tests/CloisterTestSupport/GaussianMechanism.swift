import Glibc

/// The exact ε of `compositions` Gaussian mechanisms of noise multiplier `noiseMultiplier` without subsampling, at
/// `delta` (Balle and Wang 2018, Theorem 8): their composition is a Gaussian of μ = √T/σ, with
/// δ(ε) = Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2), solved for ε by bisection (the upper end, within 2⁻¹⁹³ of 100).
public func exactGaussianEpsilon(noiseMultiplier sigma: Double, compositions: Int, delta: Double) -> Double {
    let mu = Double(compositions).squareRoot() / sigma
    func phi(_ z: Double) -> Double { 0.5 * erfc(-z / 2.squareRoot()) }
    func deltaAt(_ epsilon: Double) -> Double {
        phi(-epsilon / mu + mu / 2) - exp(epsilon) * phi(-epsilon / mu - mu / 2)
    }
    var (low, high) = (0.0, 100.0)
    for _ in 0..<200 {
        let middle = (low + high) / 2
        if deltaAt(middle) > delta { low = middle } else { high = middle }
    }
    return high
}
