import FoundationEssentials
import Glibc

/// A tight accountant by privacy random variables (Gopi, Lee and Wutschitz 2021, "Numerical Composition of
/// Differential Privacy"; Opacus's `PRVAccountant`): each step's privacy loss is a random variable Y whose
/// distribution function is known in closed form; it is put on a uniform mesh of spacing h by the mass of each cell
/// [(i − ½)h, (i + ½)h) (mass below the lowest cell joins it, mass above the highest counts as infinite loss), the
/// mesh shifted so the discretised mean equals E[Y], the steps composed by FFT, and ε read off
/// δ(ε) = E[(1 − e^(ε − ΣY))₊]. Rounding each step by at most h with the mean kept, the composed error exceeds
/// ε_err = h·√(T·ln(12/δ_err)/2) with probability below δ_err (Hoeffding), so
/// ε_upper = ε(δ − δ_err) + ε_err is an upper bound, ε(δ) the estimate and ε(δ + δ_err) − ε_err a lower bound, for
/// δ_err = δ/1000 as Opacus takes it. Both neighbouring directions are composed; the larger ε is reported.
public struct PRVAccountant: PrivacyAccountant, Hashable {
    public static let kind = Accountant.prv

    /// The bound ε_err the mesh is chosen for, as Opacus's default: ε_upper − ε(δ − δ_err).
    public static let defaultEpsilonError = 0.01
    /// The largest grid (2^24 points); a finer mesh than it allows widens ε_err instead.
    public static let maximumGridSize = 1 << 24

    public let epsilonError: Double
    /// The steps composed so far, by mechanism.
    public private(set) var history: [RDPAccountant.Composition] = []

    /// The lower bound, estimate and upper bound of ε, and the ε_err the mesh achieved.
    public struct Bounds: Sendable, Hashable {
        public let lower: Double
        public let estimate: Double
        public let upper: Double
        public let epsilonError: Double
    }

    /// An accountant with nothing spent, whose mesh keeps the discretisation error within `epsilonError` (> 0).
    public init(epsilonError: Double = PRVAccountant.defaultEpsilonError) throws(PrivacyError) {
        guard epsilonError > 0, epsilonError.isFinite else {
            throw PrivacyError(.invalidParameter, "the PRV ε error must be positive, got \(epsilonError)")
        }
        self.epsilonError = epsilonError
    }

    public mutating func compose(_ mechanism: SubsampledGaussian, steps: Int) throws(PrivacyError) {
        history.append(try RDPAccountant.Composition(checking: mechanism, steps: steps))
    }

    /// The upper bound on the smallest ε for which the composition is (ε, δ)-DP.
    public func epsilon(delta: Double) throws(PrivacyError) -> Double {
        try bounds(delta: delta).upper
    }

    /// Lower bound, estimate and upper bound of ε at `delta`, over both neighbouring directions.
    public func bounds(delta: Double) throws(PrivacyError) -> Bounds {
        try PrivacyError.checkDelta(delta)
        let steps = history.filter { $0.steps > 0 }
        guard !steps.isEmpty else { return Bounds(lower: 0, estimate: 0, upper: 0, epsilonError: 0) }
        let deltaError = delta / 1000
        let compositions = steps.reduce(0.0) { $0 + Double($1.steps) }
        let spread = (compositions * log(12 / deltaError) / 2).squareRoot()
        let perDirection = try [PrivacyLoss.Direction.remove, .add].map { direction throws(PrivacyError) in
            // The mesh for ε_err, on the fewest grid points (a power of two) that hold the composition's window.
            let window = PrivacyLoss.Grid.window(steps, direction)
            var gridSize = 1 << 10
            while gridSize < Self.maximumGridSize && window / Double(gridSize) > epsilonError / spread {
                gridSize <<= 1
            }
            let grid = PrivacyLoss.Grid(gridSize: gridSize, spacing: window / Double(gridSize))
            let composed = try grid.compose(steps) { Self.discretise($0, direction, spacing: grid.spacing) }
            let error = grid.spacing * spread
            let estimate = try composed.epsilon(delta: delta)
            return Bounds(
                lower: max(try composed.epsilon(delta: delta + deltaError) - error, 0), estimate: estimate,
                upper: try composed.epsilon(delta: delta - deltaError) + error,
                epsilonError: error)
        }
        return Bounds(
            lower: perDirection.map(\.lower).max()!, estimate: perDirection.map(\.estimate).max()!,
            upper: perDirection.map(\.upper).max()!, epsilonError: perDirection.map(\.epsilonError).max()!)
    }

    /// P(Y > t): the survival function of one step's privacy loss.
    static func survival(_ mechanism: SubsampledGaussian, _ direction: PrivacyLoss.Direction, _ t: Double) -> Double {
        let q = mechanism.samplingRate
        let sigma = mechanism.noiseMultiplier
        func upperTail(_ z: Double) -> Double { 0.5 * erfc(z / 2.squareRoot()) }  // P(N(0,1) > z)
        // The output x at which the loss L(x) is `loss`: L is increasing, and never below log(1 − q).
        func output(atLoss loss: Double) -> Double? {
            if q == 1 { return sigma * sigma * loss + 0.5 }
            guard loss > log1p(-q) else { return nil }
            return sigma * sigma * (LogSpace.subtract(loss, log1p(-q)) - log(q)) + 0.5
        }
        switch direction {
        case .remove:
            // Y = L(X), X from the mixture: Y > t ⟺ X > x_t.
            guard let x = output(atLoss: t) else { return 1 }
            return (1 - q) * upperTail(x / sigma) + q * upperTail((x - 1) / sigma)
        case .add:
            // Y = −L(X), X from N(0, σ²): Y > t ⟺ L(X) < −t ⟺ X < x_{−t}.
            guard let x = output(atLoss: -t) else { return 0 }
            return upperTail(-x / sigma)
        }
    }

    /// One step's loss on the mesh: cell masses from the survival function, the mesh shifted to keep the mean.
    static func discretise(_ mechanism: SubsampledGaussian, _ direction: PrivacyLoss.Direction, spacing h: Double)
        -> PrivacyLoss.Step
    {
        let (low, high) = PrivacyLoss.range(mechanism, direction)
        let bottom = Int((low / h).rounded(.down))
        let top = max(Int((high / h).rounded(.up)), bottom + 1)
        var masses = [Double](repeating: 0, count: top - bottom + 1)
        var upperEdge = survival(mechanism, direction, (Double(top) + 0.5) * h)
        let infinite = upperEdge
        for i in stride(from: top, to: bottom, by: -1) {
            let lowerEdge = survival(mechanism, direction, (Double(i) - 0.5) * h)
            masses[i - bottom] = max(lowerEdge - upperEdge, 0)
            upperEdge = lowerEdge
        }
        masses[0] = max(1 - upperEdge, 0)
        var step = PrivacyLoss.Step(offset: bottom, masses: masses, infinite: infinite)
        let mean = PrivacyLoss.moments(mechanism, direction).mean
        step.shift = mean - (Double(bottom) + step.meanIndex) * h
        return step
    }
}
