import FoundationEssentials
import Glibc

/// The mechanism every private release of Cloister runs: DP-SGD's steps, the private feature centre, DP-FedAvg's rounds
/// and adaptive clipping's count. Each record, clipped to L2 norm C, is put on the grid of step γ = C/2^k by
/// truncating every coordinate toward zero; the records' grid units are summed exactly in integers; and each
/// coordinate S of the sum is released as γ·(S + N) with N drawn exactly from the discrete Gaussian N_ℤ(0, σ²)
/// (`DiscreteGaussian`). Everything after the integer S + N (scaling by γ, dividing by a batch size, a model step) is
/// post-processing.
///
/// **Sensitivity.** Truncation never lengthens a coordinate, so a record's units have L2 norm at most C/γ = Δ = 2^k,
/// exactly: no √d·γ of rounding is added, as nearest or randomised rounding would. The floating-point arithmetic
/// before truncation is not trusted for this: the norm of the integer units is checked exactly (`RecordNorm`), and a
/// record past Δ contributes nothing, as a record that is not finite contributes nothing (the decision depends on
/// that record alone).
///
/// **Accounting.** k is chosen so the noise spans at least 2²⁰ grid steps (σ ≥ z·Δ ≥ 2²⁰ for noise multipliers from
/// 2⁻¹¹ to 10⁶, the most the accountants take; below 2⁻¹¹, k stops at 31 and σ ≥ 2^17.7), and σ² is the integer just
/// above (z·Δ)² + 16. The release is then
/// a post-processing of the continuous Gaussian mechanism of noise multiplier z on the same integer sum, up to a
/// likelihood ratio within e^(±η), η < 10⁻¹³⁶, per coordinate: given a continuous release c = S + N(0, σ² − 16), draw
/// N_ℤ(c, 16) — a step that needs no data. By Poisson summation, Σ_y∈ℤ exp(−(y − c)²/2s²) = √(2π)·s·(1 ± ε_s) with
/// ε_s = 2Σ_m≥1 exp(−2π²s²m²) for every real c, so that step's output has probability
/// ∫ φ_√(σ²−16)(c − S)·φ_4(y − c) dc / (1 ± ε_4) = φ_σ(y − S) / (1 ± ε_4) at each integer y, while N_ℤ(S, σ²) has
/// φ_σ(y − S) / (1 ± ε_σ); ε_4 ≈ 1.4·10⁻¹³⁷ (the smoothing argument of Peikert 2010, "An efficient and parallel Gaussian
/// sampler for lattices", Theorem 3.1, in one dimension). Every accountant of the continuous subsampled Gaussian
/// (RDP, PLD, PRV) therefore bounds these releases: a run of T steps over d coordinates has a transcript whose
/// probability is within e^(±Tdη) of the continuous mechanism's post-processing, which turns (ε, δ) into
/// (ε + 2Tdη, e^(Tdη)·δ) — 2Tdη < 10⁻¹¹⁵ for every run the accountants take (T ≤ 2³⁰, d ≤ 2⁴⁰), and covered by
/// `Accountant.epsilon`, which answers the ε at the next δ down, rounded up one unit in the last place (the δ
/// rounding, a relative 2⁻⁵³, absorbs the slack even where an ε below 10⁻¹⁰⁰ would not). The sampler's one departure
/// from N_ℤ(0, σ²) (`DiscreteGaussian`: a magnitude past 2⁴⁶, probability below e^(−2³¹)) adds at most Td·e^(−2³¹)
/// to δ, absorbed the same way. This holds in
/// every dimension, where an exact privacy-loss distribution of the d-dimensional discrete Gaussian is not known
/// (unlike the continuous one, it is not rotation invariant). The noise variance paid for it is 16 grid units² out of
/// at least 2⁴⁰.
///
/// **Rounded sums.** A mechanism made for `roundedCoordinates` d > 0 releases a sum formed on a grid 2^s times finer
/// (DP-SGD's, `FactoredGradientSum`): the records' units there are summed exactly, and each coordinate of that sum is
/// then rounded to the nearest integer multiple of 2^s (half away from zero, `coarseUnits`). A record moves the fine
/// sum by at most 2^s·Δ, and each of the two roundings moves the result by at most ½ per coordinate, so the released
/// integers have L2 sensitivity at most Δ + √d; the noise is calibrated to Δ + ⌈√d⌉ (`releaseSensitivity`) instead of
/// Δ, and everything above holds with that sensitivity. (Through the rounding, what one record changes depends on the
/// rest of the batch; the subsampled Gaussian's bounds still hold, by joint convexity of the hockey-stick and Rényi
/// divergences over the batch's other records and the Gaussian's invariance under rotation, for every shift of norm
/// at most Δ + ⌈√d⌉.) The extra noise is ⌈√d⌉/Δ of it, so a rounded release takes the finest grid (k up to 31) whose
/// noise stays within 2²⁴ steps: about z·⌈√d⌉/2²⁴, 10⁻⁵ for mnist_5k's softmax at z = 1. Where it would be more than
/// 1/64 (z·⌈√d⌉ above 1.3·10⁵ to 2.6·10⁵, by d: z above 1,010 for 50,890 coordinates), the mechanism is refused.
public struct DiscreteGaussianMechanism: Sendable, Hashable {
    /// C, the L2 norm records are clipped to.
    public let clip: Double
    /// z, the noise multiplier the accountants compose.
    public let noiseMultiplier: Double
    /// k: the grid's step is C/2^k.
    public let gridExponent: Int
    /// ⌈√d⌉ for a release whose d coordinates are rounded from a finer grid (above); 0 otherwise.
    public let roundingSlack: Int64
    /// The noise each coordinate gets: N_ℤ(0, σ²) with σ² ≥ (z·(2^k + roundingSlack))² + 16.
    public let noise: DiscreteGaussian
    /// 2^k / C, grid units per unit of value.
    public let unitsPerValue: Double

    /// The variance, in grid units², of the discrete Gaussian whose convolution with the continuous release gives
    /// this one (the smoothing term above).
    public static let smoothingVariance: UInt64 = 16
    /// The grid is at least this many steps per unit of noise standard deviation: σ ≥ 2²⁰ grid steps.
    public static let noiseResolution = 20
    /// The largest k: a record's units stay within 2³¹ per coordinate and their squares within 64 bits, and a sum over
    /// at most `maximumRecords` records within 2⁶².
    public static let maximumGridExponent = 31
    /// The most records a sum may take without its 64-bit integers overflowing.
    public static let maximumRecords = 1 << 31
    /// The grid a rounded release's sum is formed on: 2⁴⁴ steps in C (`FactoredGradientSum`).
    public static let roundedGridExponent = 44
    /// A rounded release's noise, in grid steps, at most: 2²⁴, well within the exact sampler's range (σ up to 2³⁰).
    static let roundedNoiseSteps = 0x1p24
    /// The most of the noise a rounded release's slack may add: ⌈√d⌉ ≤ Δ/64.
    public static let maximumRoundingCost = 1.0 / 64

    /// The mechanism for records clipped to `clip` at noise multiplier `noiseMultiplier` (in the accountants' range),
    /// for a release that rounds `roundedCoordinates` coordinates from the grid of `roundedGridExponent` (0: none).
    /// A rounded release takes the finest grid whose noise stays within 2²⁴ steps (k up to 31), so its slack ⌈√d⌉
    /// costs as little of the noise as the exact sampler allows; it is refused where that is more than 1/64
    /// (`maximumRoundingCost`: z·⌈√d⌉ above 1.3·10⁵ to 2.6·10⁵, by d).
    public init(clip: Double, noiseMultiplier: Double, roundedCoordinates: Int = 0) throws(PrivacyError) {
        guard clip > 0, clip.isFinite else {
            throw PrivacyError(.invalidParameter, "the clipping norm must be positive and finite, got \(clip)")
        }
        // The noise multipliers the accountants take.
        _ = try SubsampledGaussian(samplingRate: 1, noiseMultiplier: noiseMultiplier)
        // The smallest k with z·2^k ≥ 2²⁰ (none for z ≥ 2²⁰), within the integers' range.
        let wanted = Int((Double(Self.noiseResolution) - log2(noiseMultiplier)).rounded(.up))
        var k = min(max(wanted, 0), Self.maximumGridExponent)
        guard roundedCoordinates >= 0, roundedCoordinates <= 1 << 48 else {
            throw PrivacyError(.invalidParameter, "a release rounds 0...2^48 coordinates, not \(roundedCoordinates)")
        }
        let slack = Int64(Self.ceilingSquareRoot(UInt64(roundedCoordinates)))
        if slack > 0 {
            let noiseSteps = { (exponent: Int) in noiseMultiplier * Double((1 << exponent) + slack) }
            while k < Self.maximumGridExponent && noiseSteps(k + 1) <= Self.roundedNoiseSteps { k += 1 }
            guard noiseSteps(k) <= Self.roundedNoiseSteps, Double(slack) <= Self.maximumRoundingCost * Double(1 << k)
            else {
                throw PrivacyError(
                    .invalidParameter,
                    "noise multiplier \(noiseMultiplier) over \(roundedCoordinates) coordinates: rounding the sum would add more than 1/64 of the noise within the exact sampler's range (z·⌈√d⌉ must be at most 1.3e5 to 2.6e5, by d; use a smaller noise multiplier or model)"
                )
            }
            guard (Double(sign: .plus, exponent: Self.roundedGridExponent, significand: 1) / clip).isFinite else {
                throw PrivacyError(
                    .invalidParameter,
                    "the clipping norm \(clip) is too small for a grid of 2^\(Self.roundedGridExponent) steps in it")
            }
        }
        // (z·(2^k + slack))² in double precision is at most 2⁴⁸ (2⁴² without rounding) with a relative error of
        // 3·2⁻⁵³, so within 0.1 of the truth: one more unit covers it.
        let scaled = noiseMultiplier * Double((1 << k) + slack)
        let variance = UInt64((scaled * scaled).rounded(.up)) + 1 + Self.smoothingVariance
        guard (Double(1 << k) / clip).isFinite, (clip / Double(1 << k)).isNormal else {
            throw PrivacyError(
                .invalidParameter, "the clipping norm \(clip) is too small for a grid of 2^\(k) steps in it")
        }
        self.clip = clip
        self.noiseMultiplier = noiseMultiplier
        gridExponent = k
        roundingSlack = slack
        noise = try DiscreteGaussian(varianceNumerator: variance, varianceDenominator: 1)
        unitsPerValue = Double(1 << k) / clip
    }

    /// ⌈√n⌉: the least r with r² ≥ n, by bisection over 0...2³².
    static func ceilingSquareRoot(_ n: UInt64) -> UInt64 {
        var (low, high): (UInt64, UInt64) = (0, 1 << 32)
        while low < high {
            let middle = low + (high - low) / 2
            if middle * middle >= n { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The noise multiplier of the continuous Gaussian mechanism this one is a post-processing of (up to the likelihood
    /// ratio above): √(σ² − 16) over the release's sensitivity, at least `noiseMultiplier`.
    public var continuousNoiseMultiplier: Double {
        Self.continuousNoiseMultiplier(variance: noise.varianceNumerator, sensitivity: releaseSensitivity)
    }

    /// √(σ² − 16)/Δ for noise N_ℤ(0, `variance`) on an integer query of L2 sensitivity `sensitivity`, σ² > 16.
    public static func continuousNoiseMultiplier(variance: UInt64, sensitivity: Int64) -> Double {
        precondition(variance > smoothingVariance && sensitivity > 0, "the smoothing needs σ² above 16")
        return Double(variance - smoothingVariance).squareRoot() / Double(sensitivity)
    }

    /// Δ = 2^k, a record's largest L2 norm in grid units.
    public var sensitivity: Int64 { 1 << gridExponent }

    /// The L2 sensitivity, in grid units, of the integers released: Δ, plus ⌈√d⌉ for a rounded release.
    public var releaseSensitivity: Int64 { sensitivity + roundingSlack }

    /// A coordinate of a sum formed on the grid 2^`fineBits` times finer, rounded to this grid (to the nearest unit,
    /// half away from zero): the rounding `roundedCoordinates` pays for. The sum must be within 2⁶² units here.
    /// Generic so that a sum known to fit 64 bits is rounded in 64.
    @inlinable
    public static func coarseUnits<Fine: FixedWidthInteger & SignedInteger>(fineSum: Fine, fineBits: Int) -> Int64 {
        guard fineBits > 0 else { return Int64(fineSum) }
        let magnitude = (fineSum.magnitude + (1 << (fineBits - 1))) >> fineBits
        return fineSum < 0 ? -Int64(magnitude) : Int64(magnitude)
    }

    /// γ = C/2^k, the value of one grid unit.
    public var step: Double { clip / Double(sensitivity) }

    /// The grid units of one coordinate of a clipped record: its value over γ, truncated toward zero. A value no
    /// clipped record has (not finite, or 2⁶² units or more) gets 2⁶² units, whose square no `RecordNorm` admits: the
    /// record is refused, never a trap.
    @inlinable
    public func units(_ value: Double) -> Int64 {
        let scaled = value * unitsPerValue
        guard abs(scaled) < 0x1p62 else { return 1 << 62 }
        return Int64(scaled)  // truncates toward zero, in one instruction
    }

    /// Whether a record whose units have `norm` is within Δ, so it may join a sum.
    public func admits(_ norm: RecordNorm) -> Bool {
        !norm.overflowed && admits(squares: norm.squares)
    }

    /// Whether a record whose units' squares sum to `squares` exactly is within Δ.
    public func admits(squares: UInt64) -> Bool {
        squares <= UInt64(sensitivity) * UInt64(sensitivity)
    }

    /// Noise for `count` coordinates, drawn in one pass: the sampler's running time depends on its output (Jin et al.
    /// 2022 time such samplers), and a whole vector's draw shows a timer only the sum of the draws' costs. That sum still
    /// carries a little of each |N| (most for a release of one coordinate, adaptive clipping's count): the README's
    /// "Exact noise" says how much, and that it is not closed.
    @inlinable
    public func drawNoise<Source: RandomNumberGenerator>(count: Int, using source: inout Source) -> [Int64] {
        noise.samples(count: count, using: &source)
    }

    /// Noise for each of `buffer`'s coordinates, drawn in one pass as `drawNoise(count:using:)` draws it.
    @inlinable
    public func drawNoise<Source: RandomNumberGenerator>(
        into buffer: UnsafeMutableBufferPointer<Int64>, using source: inout Source
    ) {
        noise.fill(buffer, using: &source)
    }

    /// The released value of a coordinate whose exact sum is `sum` and whose noise is `noise`: γ·(S + N), the integer
    /// formed first (in 128 bits when 64 would overflow) and only then scaled.
    @inlinable
    public func release(sum: Int64, noise: Int64) -> Double {
        let (total, overflow) = sum.addingReportingOverflow(noise)
        return (overflow ? Double(Int128(sum) + Int128(noise)) : Double(total)) * step
    }
}

/// The exact squared L2 norm of one record's grid units, accumulated as they are added to a sum; it saturates into
/// `overflowed` (a record past 2⁶⁴ units² is past every Δ).
public struct RecordNorm: Sendable {
    @usableFromInline var squareSum: UInt64 = 0
    @usableFromInline var overflow = false

    public init() {}

    /// Σ units², exact unless `overflowed`.
    public var squares: UInt64 { squareSum }
    public var overflowed: Bool { overflow }

    @inlinable
    public mutating func add(_ units: Int64) {
        let magnitude = units.magnitude
        let (square, productOverflow) = magnitude.multipliedReportingOverflow(by: magnitude)
        let (total, sumOverflow) = squareSum.addingReportingOverflow(square)
        squareSum = total
        overflow = overflow || productOverflow || sumOverflow
    }
}
