import FoundationEssentials
import Glibc

/// A tight accountant: the privacy loss distribution (PLD) of each subsampled Gaussian step, discretised on a grid
/// with the "connect the dots" construction of Doroshenko, Ghazi, Kamath, Kumar and Manurangsi 2022 (a distribution
/// whose hockey-stick curve meets the exact one at every grid point and lies above it between them, so ε is never
/// understated by the discretisation), composed by FFT, and read back as the smallest ε whose δ(ε) is at most δ.
/// Add-or-remove-one neighbours: both directions are composed and the larger ε is reported, as dp-accounting does.
/// Loss mass beyond 8.5 standard deviations of the Gaussian (≈ 1e-17 per step) is counted as infinite loss, so a δ
/// at or below that mass is refused rather than answered.
public struct PLDAccountant: PrivacyAccountant, Hashable {
    public static let kind = Accountant.pld

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
        history.append(try RDPAccountant.Composition(checking: mechanism, steps: steps))
    }

    /// The smallest ε for which the composition is (ε, δ)-DP, over both neighbouring directions.
    public func epsilon(delta: Double) throws(PrivacyError) -> Double {
        try PrivacyError.checkDelta(delta)
        let steps = history.filter { $0.steps > 0 }
        guard !steps.isEmpty else { return 0 }
        return try [PrivacyLoss.Direction.remove, .add].map { direction throws(PrivacyError) in
            let grid = PrivacyLoss.Grid(steps, direction, gridSize: gridSize)
            return try grid.compose(steps) { Self.discretise($0, direction, spacing: grid.spacing) }.epsilon(
                delta: delta)
        }.max()!
    }

    /// The exact hockey-stick divergence δ(ε) = P_upper(L > ε) − e^ε P_lower(L > ε) of one step.
    static func hockeyStick(
        _ mechanism: SubsampledGaussian, _ direction: PrivacyLoss.Direction, epsilon: Double
    ) -> Double {
        let q = mechanism.samplingRate
        let sigma = mechanism.noiseMultiplier
        func tail(_ z: Double) -> Double { 0.5 * erfc(z / 2.squareRoot()) }  // P(N(0,1) > z)
        func head(_ z: Double) -> Double { 0.5 * erfc(-z / 2.squareRoot()) }  // P(N(0,1) < z)
        // e^ε·p in log space: at small σ the grid reaches losses where e^ε is infinite and p is 0.
        func raised(_ p: Double) -> Double { p == 0 ? 0 : exp(epsilon + log(p)) }
        switch direction {
        case .remove:
            // L > ε ⟺ x > x_ε; below log(1 − q) every x qualifies.
            guard q == 1 || epsilon > log1p(-q) else { return -expm1(epsilon) }
            let x = sigma * sigma * (LogSpace.subtract(epsilon, q == 1 ? -.infinity : log1p(-q)) - log(q)) + 0.5
            let upper = (1 - q) * tail(x / sigma) + q * tail((x - 1) / sigma)
            return max(upper - raised(tail(x / sigma)), 0)
        case .add:
            // L' = −L > ε ⟺ x < x'_ε; above −log(1 − q) no x qualifies.
            guard q == 1 || epsilon < -log1p(-q) else { return 0 }
            let x = sigma * sigma * (LogSpace.subtract(-epsilon, q == 1 ? -.infinity : log1p(-q)) - log(q)) + 0.5
            let lower = (1 - q) * head(x / sigma) + q * head((x - 1) / sigma)
            return max(head(x / sigma) - raised(lower), 0)
        }
    }

    /// Connect the dots: the masses at grid losses i·h whose hockey-stick curve equals the exact δ at every grid
    /// point of the step's loss range; the exact δ at the top point becomes mass at infinity.
    static func discretise(_ mechanism: SubsampledGaussian, _ direction: PrivacyLoss.Direction, spacing h: Double)
        -> PrivacyLoss.Step
    {
        let (low, high) = PrivacyLoss.range(mechanism, direction)
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
        return PrivacyLoss.Step(offset: bottom, masses: masses, infinite: infinite)
    }
}
