import FoundationEssentials
import Glibc

/// Standard normal samples by the Box–Muller transform (Box and Muller 1958) from a uniform generator: from two
/// uniforms u₁ ∈ (0, 1] and u₂ ∈ [0, 1), each built from the top 53 bits of a 64-bit draw,
/// z₀ = √(−2 ln u₁) cos 2πu₂ and z₁ = √(−2 ln u₁) sin 2πu₂ are independent N(0, 1). u₁ never reaches 0, so the
/// logarithm is finite (the largest |z| is √(2·53 ln 2) ≈ 8.57). For what is not private (data partitions,
/// initial weights): its holes and cut-off make it unfit for privacy noise, which `DiscreteGaussianMechanism` draws
/// exactly. Checked with a Kolmogorov–Smirnov test.
public struct GaussianSampler<Source: RandomNumberGenerator> {
    public private(set) var source: Source
    private var spare: Double?

    public init(source: Source) {
        self.source = source
    }

    public mutating func next() -> Double {
        if let spare {
            self.spare = nil
            return spare
        }
        let u1 = Double((source.next() >> 11) + 1) * 0x1p-53
        let radius = (-2 * log(u1)).squareRoot()
        let angle = 2 * Double.pi * uniform()
        spare = radius * sin(angle)
        return radius * cos(angle)
    }

    /// A uniform draw in [0, 1) (for Poisson sampling), from the same generator.
    public mutating func uniform() -> Double {
        Double(source.next() >> 11) * 0x1p-53
    }
}

extension GaussianSampler: Sendable where Source: Sendable {}
