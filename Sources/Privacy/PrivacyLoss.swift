import FoundationEssentials
import Glibc

/// The privacy loss of the Poisson-subsampled Gaussian and its numerical composition, shared by the tight
/// accountants (PLD and PRV), which differ only in how one step's loss is put on the grid.
///
/// One step's loss at output x is L(x) = log((1 − q) + q e^((2x − 1)/2σ²)), the log ratio of the subsampled mixture
/// (1 − q)N(0, σ²) + qN(1, σ²) to N(0, σ²). In the "remove" direction the loss is L(X) with X drawn from the mixture;
/// in the "add" direction it is −L(X) with X drawn from N(0, σ²). T steps compose to the sum of T independent losses,
/// whose distribution is the T-fold convolution (one FFT, powers, one inverse FFT), and
/// δ(ε) = P(L = ∞) + E[(1 − e^(ε − L))₊]. Loss mass beyond 8.5 standard deviations of the Gaussian (≈ 1e-17 per step)
/// is counted as infinite loss.
enum PrivacyLoss {
    /// Which neighbour the upper distribution is: with the record (remove) or without it (add).
    enum Direction { case remove, add }

    /// One step's loss on the grid: masses at losses (offset + i)·h + shift, and the mass of infinite loss.
    struct Step {
        let offset: Int
        var masses: [Double]
        let infinite: Double
        /// A loss added to every grid point (the PRV's mean correction); 0 for PLD.
        var shift = 0.0

        /// The mean of the finite part, in grid units (shift excluded), per unit of finite mass.
        var meanIndex: Double {
            let total = masses.reduce(0, +)
            return zip(masses.indices, masses).reduce(0) { $0 + Double($1.0) * $1.1 }
                / max(total, .leastNormalMagnitude)
        }
    }

    /// The composed loss on a grid: masses at losses (firstIndex + k)·h + shift, and the mass of infinite loss.
    struct Composed {
        let masses: [Double]
        let firstIndex: Int
        let spacing: Double
        let shift: Double
        let infinite: Double
        /// The FFT's round-off: twice the negative mass its inverse left, clamped to 0 (as much again may have moved
        /// the other way unseen): about 1e-14 of a typical composition's mass, far more over 2^30 steps (each
        /// spectrum is raised to the step count). A δ not above it would be read off noise.
        let roundOff: Double

        /// The smallest ε with δ(ε) = P(∞) + Σ_{L > ε} p_L (1 − e^(ε − L)) ≤ δ.
        /// A δ at or below the mass of infinite loss (the tails past 8.5σ the grid leaves out) and the FFT's
        /// round-off has no ε here: below the round-off, δ(ε) is the transform's noise, and ε would be read off it.
        func epsilon(delta: Double) throws(PrivacyError) -> Double {
            guard infinite + roundOff < delta else {
                throw PrivacyError(
                    .invalidParameter,
                    "delta \(delta) is below what the tight accountants resolve: \(infinite) of the privacy loss lies in the Gaussian tails they leave out and \(roundOff) is the FFT's round-off (a larger delta, or the RDP accountant)"
                )
            }
            let h = spacing
            var above = 0.0  // Σ p_i over i > k
            // Σ p_i e^(ε_{k+1} − L_i) over i > k: relative to ε_{k+1}, not ε_k, so it cannot underflow to 0 when the
            // spacing is wide (e^−h is 0 past h ≈ 745, as on the grid of a tiny noise multiplier).
            var weighted = 0.0
            var k = masses.count - 1
            while k > 0 {
                // Move from k to k−1: the point k joins the sums.
                weighted = masses[k] + exp(-h) * weighted
                above += masses[k]
                k -= 1
                if infinite + above - exp(-h) * weighted > delta {
                    // δ crosses between ε_k and ε_{k+1}, where the sums are those of i > k.
                    let epsilonAbove = Double(firstIndex + k + 1) * h + shift
                    return max(epsilonAbove + log((infinite + above - delta) / weighted), 0)
                }
            }
            // ε is never negative: a δ that covers the whole loss needs none.
            return max(Double(firstIndex) * h + shift, 0)
        }
    }

    /// The grid a composition is computed on: `gridSize` points spaced to hold the composed loss (30 of its standard
    /// deviations either side of its mean, plus every step's own support).
    struct Grid {
        let gridSize: Int
        let spacing: Double

        init(_ steps: [RDPAccountant.Composition], _ direction: Direction, gridSize: Int) {
            self.gridSize = gridSize
            spacing = Self.window(steps, direction) / Double(gridSize)
        }

        init(gridSize: Int, spacing: Double) {
            self.gridSize = gridSize
            self.spacing = spacing
        }

        /// The width of loss the composition of `steps` needs.
        static func window(_ steps: [RDPAccountant.Composition], _ direction: Direction) -> Double {
            var spread = 0.0
            var supports = 0.0
            for step in steps {
                let (low, high) = range(step.mechanism, direction)
                spread += Double(step.steps) * moments(step.mechanism, direction).variance
                supports += high - low
            }
            return 2 * (30 * spread.squareRoot() + supports) + 1e-3
        }

        /// Composes `steps`, each put on this grid by `discretise`; refuses a composition whose grid offset the
        /// grid's integer indices cannot hold.
        func compose(_ steps: [RDPAccountant.Composition], discretise: (SubsampledGaussian) -> Step)
            throws(PrivacyError) -> Composed
        {
            let tooLong = PrivacyError(
                .invalidParameter,
                "the composition is too long for the tight accountants' grid (use the RDP accountant)")
            // The composed spectrum's frequencies 0 through N/2 (a real sequence's spectrum is conjugate-symmetric).
            var real = [Double](repeating: 1, count: gridSize / 2 + 1)
            var imaginary = [Double](repeating: 0, count: gridSize / 2 + 1)
            let fft = FFT(count: gridSize)
            var offset = 0
            var shift = 0.0
            var logFiniteMass = 0.0  // log P(no step's loss is infinite), kept in log space so 1e-19 is not lost
            var meanIndex = 0.0
            for step in steps {
                let distribution = discretise(step.mechanism)
                let (stepOffset, productOverflow) = step.steps.multipliedReportingOverflow(by: distribution.offset)
                let (sum, sumOverflow) = offset.addingReportingOverflow(stepOffset)
                guard !productOverflow, !sumOverflow else { throw tooLong }
                offset = sum
                shift += Double(step.steps) * distribution.shift
                logFiniteMass += Double(step.steps) * log1p(-distribution.infinite)
                meanIndex += Double(step.steps) * distribution.meanIndex
                var masses = [Double](repeating: 0, count: gridSize)
                for (index, mass) in distribution.masses.enumerated() { masses[index] = mass }
                let (stepReal, stepImaginary) = fft.forward(masses)
                for k in real.indices {
                    let modulus = (stepReal[k] * stepReal[k] + stepImaginary[k] * stepImaginary[k]).squareRoot()
                    let angle = atan2(stepImaginary[k], stepReal[k])
                    let power = pow(modulus, Double(step.steps))
                    let turned = angle * Double(step.steps)
                    let (r, i) = (power * cos(turned), power * sin(turned))
                    (real[k], imaginary[k]) = (real[k] * r - imaginary[k] * i, real[k] * i + imaginary[k] * r)
                }
            }
            let values = fft.inverse(real: real, imaginary: imaginary)
            // Index k holds the mass of every composed loss (offset + k + m·N)·h; the one inside the window around
            // the mean (in grid units) is the real one.
            guard let low = Int(exactly: (Double(offset) + meanIndex - Double(gridSize) / 2).rounded(.down)) else {
                throw tooLong
            }
            let (start, startOverflow) = low.subtractingReportingOverflow(offset)
            guard !startOverflow else { throw tooLong }
            var composed = [Double](repeating: 0, count: gridSize)
            var negative = 0.0
            for k in 0..<gridSize {
                let mass = values[k] / Double(gridSize)
                negative -= min(mass, 0)
                composed[((k - start) % gridSize + gridSize) % gridSize] += max(mass, 0)
            }
            return Composed(
                masses: composed, firstIndex: low, spacing: spacing, shift: shift, infinite: -expm1(logFiniteMass),
                roundOff: 2 * negative)
        }
    }

    /// The loss range holding all but ≈ 1e-17 of a step's mass.
    static func range(_ mechanism: SubsampledGaussian, _ direction: Direction) -> (Double, Double) {
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

    /// The mean and variance of a step's loss, by the trapezoid rule over its upper distribution.
    static func moments(_ mechanism: SubsampledGaussian, _ direction: Direction) -> (mean: Double, variance: Double) {
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
        return (mean, max(second / mass - mean * mean, 0))
    }
}
