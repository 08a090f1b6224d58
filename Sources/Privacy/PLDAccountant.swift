import Foundation

/// A tight accountant: the privacy loss distribution (PLD) of each subsampled Gaussian step, discretised on a grid
/// with the "connect the dots" construction of Doroshenko, Ghazi, Kamath, Kumar and Manurangsi 2022 (a distribution
/// whose hockey-stick curve meets the exact one at every grid point and lies above it between them, so ε is never
/// understated by the discretisation), composed by FFT, and read back as the smallest ε whose δ(ε) is at most δ.
/// Add-or-remove-one neighbours: both directions are composed and the larger ε is reported, as dp-accounting does.
/// Loss mass beyond 8.5 standard deviations of the Gaussian (≈ 1e-17 per step) is counted as infinite loss.
public struct PLDAccountant: Sendable, Hashable {
    /// Grid points of the composed distribution by default (a power of two): ε within ≈ 1e-4 relative of exact.
    public static let defaultGridSize = 1 << 20

    /// Grid points of the composed distribution. Any size gives an upper bound on ε (the discretisation is
    /// pessimistic); a coarser grid is faster and looser.
    public let gridSize: Int
    /// The steps composed so far, by mechanism.
    public private(set) var history: [RDPAccountant.Composition] = []

    /// An accountant with nothing spent; `gridSize` must be a power of two of at least 2^10.
    public init(gridSize: Int = PLDAccountant.defaultGridSize) throws(PrivacyError) {
        guard gridSize >= 1 << 10, gridSize & (gridSize - 1) == 0 else {
            throw PrivacyError(.invalidParameter, "the PLD grid size must be a power of two ≥ 1024, got \(gridSize)")
        }
        self.gridSize = gridSize
    }

    public mutating func compose(_ mechanism: SubsampledGaussian, steps: Int) throws(PrivacyError) {
        guard steps >= 0 else { throw PrivacyError(.invalidParameter, "steps must not be negative, got \(steps)") }
        history.append(RDPAccountant.Composition(mechanism: mechanism, steps: steps))
    }

    public func composing(_ mechanism: SubsampledGaussian, steps: Int) throws(PrivacyError) -> PLDAccountant {
        var next = self
        try next.compose(mechanism, steps: steps)
        return next
    }

    /// The smallest ε for which the composition is (ε, δ)-DP, over both neighbouring directions.
    public func epsilon(delta: Double) throws(PrivacyError) -> Double {
        guard delta > 0, delta < 1 else {
            throw PrivacyError(.invalidParameter, "delta must be in (0, 1), got \(delta)")
        }
        let steps = history.filter { $0.steps > 0 }
        guard !steps.isEmpty else { return 0 }
        return max(
            Self.epsilon(steps, direction: .remove, delta: delta, gridSize: gridSize),
            Self.epsilon(steps, direction: .add, delta: delta, gridSize: gridSize))
    }

    /// Which neighbour the upper distribution is: with the record (remove) or without it (add).
    enum Direction { case remove, add }

    /// One step's loss distribution on the grid: masses at losses (offset + i)·h, and the mass of infinite loss.
    struct GridDistribution {
        let offset: Int
        var masses: [Double]
        let infinite: Double
        var mean: Double { zip(masses.indices, masses).reduce(0) { $0 + Double($1.0) * $1.1 } }
    }

    private static func epsilon(
        _ steps: [RDPAccountant.Composition], direction: Direction, delta: Double, gridSize: Int
    ) -> Double {
        // The grid spacing: the composed window (its spread, plus every step's own support) over the grid size.
        var spread = 0.0
        var supports = 0.0
        for step in steps {
            let (low, high) = lossRange(step.mechanism, direction)
            spread += Double(step.steps) * lossVariance(step.mechanism, direction)
            supports += high - low
        }
        let window = 2 * (30 * spread.squareRoot() + supports) + 1e-3
        let h = window / Double(gridSize)
        var real = [Double](repeating: 1, count: gridSize)
        var imaginary = [Double](repeating: 0, count: gridSize)
        var offset = 0
        var finiteMass = 1.0
        var meanLoss = 0.0
        for step in steps {
            let distribution = discretise(step.mechanism, direction, spacing: h)
            offset += step.steps * distribution.offset
            finiteMass *= pow(1 - distribution.infinite, Double(step.steps))
            let total = distribution.masses.reduce(0, +)
            meanLoss += Double(step.steps) * (distribution.mean / max(total, .leastNormalMagnitude))
            var stepReal = [Double](repeating: 0, count: gridSize)
            var stepImaginary = [Double](repeating: 0, count: gridSize)
            for (index, mass) in distribution.masses.enumerated() { stepReal[index] = mass }
            FFT.transform(&stepReal, &stepImaginary, inverse: false)
            for k in 0..<gridSize {
                let modulus = (stepReal[k] * stepReal[k] + stepImaginary[k] * stepImaginary[k]).squareRoot()
                let angle = atan2(stepImaginary[k], stepReal[k])
                let power = pow(modulus, Double(step.steps))
                let turned = angle * Double(step.steps)
                let (r, i) = (power * cos(turned), power * sin(turned))
                (real[k], imaginary[k]) = (real[k] * r - imaginary[k] * i, real[k] * i + imaginary[k] * r)
            }
        }
        FFT.transform(&real, &imaginary, inverse: true)
        // Index k holds the mass of every composed loss (offset + k + m·N)·h; the one inside the window around the
        // mean (in grid units) is the real one.
        let center = Double(offset) + meanLoss
        let low = Int((center - Double(gridSize) / 2).rounded(.down))
        var composed = [Double](repeating: 0, count: gridSize)
        for k in 0..<gridSize {
            let mass = max(real[k] / Double(gridSize), 0)
            composed[((offset + k - low) % gridSize + gridSize) % gridSize] += mass
        }
        return smallestEpsilon(composed, firstIndex: low, spacing: h, infinite: 1 - finiteMass, delta: delta)
    }

    /// The smallest ε with δ(ε) = P(∞) + Σ_{L > ε} p_L (1 − e^(ε − L)) ≤ δ.
    private static func smallestEpsilon(
        _ masses: [Double], firstIndex: Int, spacing h: Double, infinite: Double, delta: Double
    ) -> Double {
        guard infinite < delta else { return .infinity }
        var above = 0.0  // Σ p_i over i > k
        var weighted = 0.0  // Σ p_i e^(ε_k − L_i) over i > k
        var k = masses.count - 1
        while k > 0 {
            // Move from k to k−1: the point k joins the sums.
            weighted = exp(-h) * (weighted + masses[k])
            above += masses[k]
            k -= 1
            let deltaHere = infinite + above - weighted
            if deltaHere > delta {
                // δ crosses between ε_k and ε_{k+1}, where the sums are those of i > k.
                let epsilonK = Double(firstIndex + k) * h
                return epsilonK + log((infinite + above - delta) / weighted)
            }
        }
        return Double(firstIndex) * h
    }

    /// The loss range holding all but ≈ 1e-17 of a step's mass.
    static func lossRange(_ mechanism: SubsampledGaussian, _ direction: Direction) -> (Double, Double) {
        let sigma = mechanism.noiseMultiplier
        let z = 8.5
        switch direction {
        case .remove:
            return (loss(mechanism, x: -z * sigma), loss(mechanism, x: 1 + z * sigma))
        case .add:
            return (-loss(mechanism, x: z * sigma), -loss(mechanism, x: -z * sigma))
        }
    }

    /// log((1 − q) + q e^((2x − 1)/2σ²)): the log ratio of the subsampled mixture to N(0, σ²) at x.
    static func loss(_ mechanism: SubsampledGaussian, x: Double) -> Double {
        let q = mechanism.samplingRate
        let exponent = (2 * x - 1) / (2 * mechanism.noiseMultiplier * mechanism.noiseMultiplier)
        if q == 1 { return exponent }
        return LogSpace.add(log1p(-q), log(q) + exponent)
    }

    /// The variance of a step's loss (to size the grid), by the trapezoid rule over the upper distribution.
    static func lossVariance(_ mechanism: SubsampledGaussian, _ direction: Direction) -> Double {
        let sigma = mechanism.noiseMultiplier
        let q = mechanism.samplingRate
        let points = 20_000
        let start = -9 * sigma
        let end = 1 + 9 * sigma
        let dx = (end - start) / Double(points)
        var mass = 0.0
        var first = 0.0
        var second = 0.0
        for index in 0...points {
            let x = start + Double(index) * dx
            let gaussian0 = exp(-x * x / (2 * sigma * sigma))
            let gaussian1 = exp(-(x - 1) * (x - 1) / (2 * sigma * sigma))
            let density = direction == .remove ? (1 - q) * gaussian0 + q * gaussian1 : gaussian0
            let value = direction == .remove ? loss(mechanism, x: x) : -loss(mechanism, x: x)
            let weight = (index == 0 || index == points) ? 0.5 : 1
            mass += weight * density
            first += weight * density * value
            second += weight * density * value * value
        }
        let mean = first / mass
        return max(second / mass - mean * mean, 0)
    }

    /// The exact hockey-stick divergence δ(ε) = P_upper(L > ε) − e^ε P_lower(L > ε) of one step.
    static func hockeyStick(_ mechanism: SubsampledGaussian, _ direction: Direction, epsilon: Double) -> Double {
        let q = mechanism.samplingRate
        let sigma = mechanism.noiseMultiplier
        func tail(_ z: Double) -> Double { 0.5 * erfc(z / 2.squareRoot()) }  // P(N(0,1) > z)
        func head(_ z: Double) -> Double { 0.5 * erfc(-z / 2.squareRoot()) }  // P(N(0,1) < z)
        switch direction {
        case .remove:
            // L > ε ⟺ x > x_ε; below log(1 − q) every x qualifies.
            guard q == 1 || epsilon > log1p(-q) else { return -expm1(epsilon) }
            let x = sigma * sigma * (LogSpace.subtract(epsilon, q == 1 ? -.infinity : log1p(-q)) - log(q)) + 0.5
            let upper = (1 - q) * tail(x / sigma) + q * tail((x - 1) / sigma)
            return max(upper - exp(epsilon) * tail(x / sigma), 0)
        case .add:
            // L' = −L > ε ⟺ x < x'_ε; above −log(1 − q) no x qualifies.
            guard q == 1 || epsilon < -log1p(-q) else { return 0 }
            let x = sigma * sigma * (LogSpace.subtract(-epsilon, q == 1 ? -.infinity : log1p(-q)) - log(q)) + 0.5
            let lower = (1 - q) * head(x / sigma) + q * head((x - 1) / sigma)
            return max(head(x / sigma) - exp(epsilon) * lower, 0)
        }
    }

    /// Connect the dots: the masses at grid losses i·h whose hockey-stick curve equals the exact δ at every grid
    /// point of the step's loss range; the exact δ at the top point becomes mass at infinity.
    static func discretise(_ mechanism: SubsampledGaussian, _ direction: Direction, spacing h: Double)
        -> GridDistribution
    {
        let (low, high) = lossRange(mechanism, direction)
        let bottom = Int((low / h).rounded(.down))
        let top = max(Int((high / h).rounded(.up)), bottom + 1)
        let infinite = hockeyStick(mechanism, direction, epsilon: Double(top) * h)
        var masses = [Double](repeating: 0, count: top - bottom + 1)
        var above = 0.0  // Σ ω_i for i ≥ j + 2
        var weighted = 0.0  // Σ ω_i e^(ε_j − ε_i) for i ≥ j + 2
        let decay = exp(-h)
        for j in stride(from: top - 1, through: bottom, by: -1) {
            let target = hockeyStick(mechanism, direction, epsilon: Double(j) * h)
            let mass = max((target - infinite - above + weighted) / -expm1(-h), 0)
            masses[j + 1 - bottom] = mass
            above += mass
            weighted = decay * (weighted + mass * decay)
        }
        masses[0] = max(1 - infinite - above, 0)
        return GridDistribution(offset: bottom, masses: masses, infinite: infinite)
    }
}
