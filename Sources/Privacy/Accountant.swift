/// The accountants that turn T steps of a subsampled Gaussian into (ε, δ).
public enum Accountant: String, Sendable, CaseIterable {
    /// Rényi DP at Opacus's default orders, converted with Balle et al. 2020 (an upper bound, looser).
    case rdp
    /// The discretised privacy loss distribution composed by FFT (tight).
    case pld

    /// The ε spent by `steps` steps of `mechanism` at `delta`, and the RDP order that attains it (nil for PLD).
    /// `coarse` trades tightness for speed where only an upper bound is needed (PLD on a 2^16 grid).
    public func epsilon(
        _ mechanism: SubsampledGaussian, steps: Int, delta: Double, coarse: Bool = false
    ) throws(PrivacyError) -> (epsilon: Double, order: Double?) {
        switch self {
        case .rdp:
            let (epsilon, order) = try RDPAccountant().composing(mechanism, steps: steps).epsilon(delta: delta)
            return (epsilon, order)
        case .pld:
            let accountant = try PLDAccountant(gridSize: coarse ? 1 << 16 : PLDAccountant.defaultGridSize)
            return (try accountant.composing(mechanism, steps: steps).epsilon(delta: delta), nil)
        }
    }
}
