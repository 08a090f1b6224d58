/// An accountant of the Poisson-subsampled Gaussian: it composes steps, one mechanism at a time, and answers the ε
/// they spend at a δ, an upper bound on the true ε. Budgets (`PrivacyBudget`), noise calibration and privacy reports
/// take any accountant through this protocol; `Accountant` names each one and makes a new one.
public protocol PrivacyAccountant: Sendable {
    /// Which accountant this is: the name reports give the ε it answers.
    static var kind: Accountant { get }

    /// Composes `steps` steps of `mechanism`; steps outside 0...`RDPAccountant.Composition.maximumSteps` are
    /// refused and leave the accountant as it was.
    mutating func compose(_ mechanism: SubsampledGaussian, steps: Int) throws(PrivacyError)

    /// The smallest ε this accountant proves for the steps composed so far at `delta`, in (0, 1): (ε, δ)-DP.
    func epsilon(delta: Double) throws(PrivacyError) -> Double

    /// `epsilon(delta:)`, labelled with the accountant that gave it (and, for RDP, the order that attains it).
    func accounted(delta: Double) throws(PrivacyError) -> AccountedEpsilon
}

extension PrivacyAccountant {
    public func accounted(delta: Double) throws(PrivacyError) -> AccountedEpsilon {
        AccountedEpsilon(accountant: Self.kind, epsilon: try epsilon(delta: delta))
    }

    /// The accountant after `steps` more steps of `mechanism`, this one unchanged.
    public func composing(_ mechanism: SubsampledGaussian, steps: Int) throws(PrivacyError) -> Self {
        var next = self
        try next.compose(mechanism, steps: steps)
        return next
    }

    /// The accountant after `compositions` (heterogeneous steps, in order), this one unchanged.
    public func composing(_ compositions: [RDPAccountant.Composition]) throws(PrivacyError) -> Self {
        var next = self
        for composition in compositions { try next.compose(composition.mechanism, steps: composition.steps) }
        return next
    }
}

/// An ε and the accountant that gave it.
public struct AccountedEpsilon: Sendable, Hashable {
    public let accountant: Accountant
    public let epsilon: Double
    /// The Rényi order at which the RDP conversion attains ε; nil for the other accountants.
    public let order: Double?

    public init(accountant: Accountant, epsilon: Double, order: Double? = nil) {
        self.accountant = accountant
        self.epsilon = epsilon
        self.order = order
    }
}

/// The accountants that turn T steps of a subsampled Gaussian into (ε, δ), by name: what `--accountant` takes and
/// what a privacy report says produced each ε.
public enum Accountant: String, Sendable, CaseIterable {
    /// Rényi DP at Opacus's default orders, converted with Balle et al. 2020 (an upper bound, looser).
    case rdp
    /// The discretised privacy loss distribution composed by FFT (tight).
    case pld
    /// Privacy random variables on a mean-preserving mesh composed by FFT, reported as the upper bound (tight).
    case prv

    /// The accountant budgets and noise calibration use where none is named: PLD, tight.
    public static let tight = Accountant.pld

    /// A new accountant of this kind, nothing spent. `coarse` trades tightness for speed where only an upper bound is
    /// needed, as in calibration and budget checks: PLD on a 2^16 grid, PRV with a mesh for ε_err = 0.02 (RDP has
    /// nothing to trade).
    public func makeAccountant(coarse: Bool = false) throws(PrivacyError) -> any PrivacyAccountant {
        switch self {
        case .rdp: try RDPAccountant()
        case .pld: try PLDAccountant(gridSize: coarse ? 1 << 16 : PLDAccountant.defaultGridSize)
        case .prv: try PRVAccountant(epsilonError: coarse ? 0.02 : PRVAccountant.defaultEpsilonError)
        }
    }

    /// The ε spent by `steps` steps of `mechanism` at `delta`, by a new accountant of this kind.
    public func epsilon(
        _ mechanism: SubsampledGaussian, steps: Int, delta: Double, coarse: Bool = false
    ) throws(PrivacyError) -> AccountedEpsilon {
        try epsilon([RDPAccountant.Composition(mechanism: mechanism, steps: steps)], delta: delta, coarse: coarse)
    }

    /// The ε spent by `compositions` (heterogeneous steps, in order) at `delta`, by a new accountant of this kind, for
    /// Cloister's releases: the continuous accountant's ε at the next δ down, rounded up one unit in the last place.
    /// The releases draw discrete Gaussian noise, whose (ε, δ) is the continuous mechanism's up to
    /// (ε + 2·10⁻¹⁰⁰, (1 + 10⁻¹⁰⁰)·δ) (`DiscreteGaussianMechanism`); those two roundings cover it. With no step
    /// composed, nothing is released and ε is the accountant's.
    public func epsilon(
        _ compositions: [RDPAccountant.Composition], delta: Double, coarse: Bool = false
    ) throws(PrivacyError) -> AccountedEpsilon {
        try PrivacyError.checkDelta(delta)
        let continuous = try makeAccountant(coarse: coarse).composing(compositions).accounted(delta: delta.nextDown)
        // Nothing released, nothing spent.
        guard compositions.contains(where: { $0.steps > 0 }) else { return continuous }
        return AccountedEpsilon(
            accountant: continuous.accountant, epsilon: continuous.epsilon.nextUp, order: continuous.order)
    }
}
