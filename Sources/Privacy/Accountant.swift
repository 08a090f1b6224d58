/// The accountants that turn T steps of a subsampled Gaussian into (ε, δ).
public enum Accountant: String, Sendable, CaseIterable {
    /// Rényi DP at Opacus's default orders, converted with Balle et al. 2020 (an upper bound, looser).
    case rdp
    /// The discretised privacy loss distribution composed by FFT (tight).
    case pld

    /// The ε spent by `steps` steps of `mechanism` at `delta`, and the RDP order that attains it (nil for PLD).
    public func epsilon(_ mechanism: SubsampledGaussian, steps: Int, delta: Double) throws(PrivacyError) -> (
        epsilon: Double, order: Double?
    ) {
        switch self {
        case .rdp:
            let (epsilon, order) = try RDPAccountant().composing(mechanism, steps: steps).epsilon(delta: delta)
            return (epsilon, order)
        case .pld:
            return (try PLDAccountant().composing(mechanism, steps: steps).epsilon(delta: delta), nil)
        }
    }
}
