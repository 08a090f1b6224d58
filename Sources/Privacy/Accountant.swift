/// The accountants that turn T steps of a subsampled Gaussian into (ε, δ).
public enum Accountant: String, Sendable, CaseIterable {
    /// Rényi DP at Opacus's default orders, converted with Balle et al. 2020 (an upper bound, looser).
    case rdp
    /// The discretised privacy loss distribution composed by FFT (tight).
    case pld
    /// Privacy random variables on a mean-preserving mesh composed by FFT, reported as the upper bound (tight).
    case prv

    /// The ε spent by `steps` steps of `mechanism` at `delta`, and the RDP order that attains it (nil for PLD, PRV).
    /// `coarse` trades tightness for speed where only an upper bound is needed (PLD on a 2^16 grid).
    public func epsilon(
        _ mechanism: SubsampledGaussian, steps: Int, delta: Double, coarse: Bool = false
    ) throws(PrivacyError) -> (epsilon: Double, order: Double?) {
        try epsilon([RDPAccountant.Composition(mechanism: mechanism, steps: steps)], delta: delta, coarse: coarse)
    }

    /// The ε spent by `compositions` (heterogeneous steps, in order) at `delta`, and the RDP order that attains it.
    public func epsilon(
        _ compositions: [RDPAccountant.Composition], delta: Double, coarse: Bool = false
    ) throws(PrivacyError) -> (epsilon: Double, order: Double?) {
        func composed<Spent: StepAccountant>(_ accountant: Spent) throws(PrivacyError) -> Spent {
            var accountant = accountant
            for composition in compositions { try accountant.compose(composition.mechanism, steps: composition.steps) }
            return accountant
        }
        switch self {
        case .rdp:
            let (epsilon, order) = try composed(RDPAccountant()).epsilon(delta: delta)
            return (epsilon, order)
        case .pld:
            let accountant = try PLDAccountant(gridSize: coarse ? 1 << 16 : PLDAccountant.defaultGridSize)
            return (try composed(accountant).epsilon(delta: delta), nil)
        case .prv:
            let accountant = try PRVAccountant(epsilonError: coarse ? 0.02 : PRVAccountant.defaultEpsilonError)
            return (try composed(accountant).epsilon(delta: delta), nil)
        }
    }
}

/// What every accountant of the subsampled Gaussian does: compose steps, one mechanism at a time.
public protocol StepAccountant: Sendable {
    /// Composes `steps` steps of `mechanism`.
    mutating func compose(_ mechanism: SubsampledGaussian, steps: Int) throws(PrivacyError)
}

extension StepAccountant {
    /// The accountant after `steps` more steps of `mechanism`, this one unchanged.
    public func composing(_ mechanism: SubsampledGaussian, steps: Int) throws(PrivacyError) -> Self {
        var next = self
        try next.compose(mechanism, steps: steps)
        return next
    }
}
