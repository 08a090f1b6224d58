/// Exact samples of the discrete Gaussian N_ℤ(0, σ²), P[X = x] ∝ exp(−x²/2σ²) on the integers, for a rational variance
/// σ² = a/b, by the algorithms of Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential Privacy"
/// (NeurIPS 2020), section 5: Bernoulli(exp(−γ)) for rational γ from Bernoulli trials of rational probability
/// (Algorithm 1), the discrete Laplace by rejection (Algorithm 2), and the discrete Gaussian by rejection from the
/// discrete Laplace of scale t = ⌊σ⌋ + 1 (Algorithm 3).
///
/// Every step is integer arithmetic on 64- and 128-bit words: a Bernoulli(n/d) trial compares random bits with the
/// binary digits of n/d (`bernoulli`), and the Laplace's uniform integer is Lemire's multiply-and-shift with
/// rejection (`uniformInteger(below:)`); both are exact, and neither divides in the common case. Nothing on the sampling path touches a
/// floating-point value, so the output has the distribution the accountants analyse exactly, with no holes and no
/// cut-off (a floating-point sampler has both: Mironov 2012, Jin et al. 2022). The one departure is an event too rare
/// to happen: a draw whose arithmetic would leave 128 bits (a candidate more than 2⁶³ from 0, or an exponent above 2²⁸,
/// each of probability below exp(−2²⁸)) is handled as if its exponent were infinite.
///
/// Private noise draws from OpenSSL's DRBG (`BufferedSecureRandom`) or a keyed AES-CTR stream; a seeded source gives
/// the same samples every time (the known-answer test replays them against a Python implementation on the same words).
public struct DiscreteGaussian: Sendable, Hashable {
    /// σ² = varianceNumerator / varianceDenominator.
    public let varianceNumerator: UInt64
    public let varianceDenominator: UInt64
    /// The discrete Laplace scale t = ⌊σ⌋ + 1 the candidates are drawn with.
    private let scale: UInt64
    /// 2·a·b·t², the denominator of the acceptance exponent (|y|·b·t − a)² / (2·a·b·t²).
    private let exponentDenominator: UInt128

    /// The largest 2·a·b·t² accepted: exponents of candidates within 2⁶³ of 0 stay exact in 128 bits (σ up to about
    /// 2²⁴ for an integer variance).
    public static var maximumExponentDenominator: UInt128 { 1 << 100 }

    /// N_ℤ(0, a/b); refuses a zero numerator or denominator, a denominator above 2³², and variances whose
    /// arithmetic would not stay within 128 bits (`maximumExponentDenominator`).
    public init(varianceNumerator a: UInt64, varianceDenominator b: UInt64) throws(PrivacyError) {
        guard a > 0, b > 0, b <= 1 << 32 else {
            throw PrivacyError(
                .invalidParameter,
                "the discrete Gaussian's variance \(a)/\(b) needs a positive numerator and a denominator in 1...2^32")
        }
        let scale = Self.floorSquareRoot(numerator: a, denominator: b) + 1
        let (squared, overflow) = UInt128(scale).multipliedReportingOverflow(by: UInt128(scale))
        let denominator = overflow ? nil : Self.product([2, UInt128(a), UInt128(b), squared])
        guard let denominator, denominator <= Self.maximumExponentDenominator else {
            throw PrivacyError(
                .invalidParameter,
                "the discrete Gaussian's variance \(a)/\(b) is too large for exact 128-bit sampling (2ab(⌊σ⌋+1)² must be at most 2^100)"
            )
        }
        varianceNumerator = a
        varianceDenominator = b
        self.scale = scale
        exponentDenominator = denominator
    }

    /// One sample of N_ℤ(0, σ²) (Algorithm 3) from `source`'s words.
    public func sample<Source: RandomNumberGenerator>(using source: inout Source) -> Int64 {
        var bits = RandomBits()
        while true {
            let candidate = discreteLaplace(&source, &bits)
            if acceptsGaussian(candidate, &source, &bits) { return candidate }
        }
    }

    /// Bernoulli(exp(−(|y| − σ²/t)² / 2σ²)) = Bernoulli(exp(−u² / (2abt²))) with u = |y|·b·t − a.
    private func acceptsGaussian<Source: RandomNumberGenerator>(
        _ candidate: Int64, _ source: inout Source, _ bits: inout RandomBits
    ) -> Bool {
        let a = UInt128(varianceNumerator)
        // |y|·b·t: |y| < 2⁶³ and b·t < 2⁶⁵, so only the second product can leave 128 bits.
        let (product, overflow) = (UInt128(candidate.magnitude) * UInt128(varianceDenominator))
            .multipliedReportingOverflow(by: UInt128(scale))
        let difference = product >= a ? product - a : a - product
        guard !overflow, difference <= UInt128(UInt64.max) else {
            // u² ≥ 2¹²⁸ over a denominator of at most 2¹⁰⁰: an exponent above 2²⁸.
            return bernoulliExpMinusInfinite(&source, &bits)
        }
        return bernoulliExp(numerator: difference * difference, denominator: exponentDenominator, &source, &bits)
    }

    /// One sample of the discrete Laplace of scale t, P[Y = y] ∝ exp(−|y|/t) (Algorithm 2 with s = 1).
    private func discreteLaplace<Source: RandomNumberGenerator>(
        _ source: inout Source, _ bits: inout RandomBits
    ) -> Int64 {
        while true {
            let u = source.uniformInteger(below: scale)
            guard bernoulliExp(numerator: UInt128(u), denominator: UInt128(scale), &source, &bits) else { continue }
            var v: UInt64 = 0
            // Bernoulli(exp(−1)): Algorithm 1's one whole trial (its trial of exp(−0) draws nothing).
            while bernoulliExpFraction(numerator: 1, denominator: 1, &source, &bits) { v &+= 1 }
            let (tv, overflow) = scale.multipliedReportingOverflow(by: v)
            // x = u + t·v; beyond Int64 needs 2⁶³/t consecutive successes of probability 1/e: restart.
            guard !overflow, tv <= UInt64(Int64.max) - u else { continue }
            let x = Int64(tv + u)
            let negative = bits.next(&source)
            if negative && x == 0 { continue }
            return negative ? -x : x
        }
    }

    /// Bernoulli(exp(−n/d)) for n ≥ 0, d > 0 (Algorithm 1): exp(−1) ⌊n/d⌋ times, then exp(−(n mod d)/d). ⌊n/d⌋ is
    /// found by subtraction while it is small (a 128-bit division costs more than the trials it counts).
    private func bernoulliExp<Source: RandomNumberGenerator>(
        numerator n: UInt128, denominator d: UInt128, _ source: inout Source, _ bits: inout RandomBits
    ) -> Bool {
        var remainder = n
        var whole: UInt128 = 0
        while remainder >= d && whole < 8 {
            remainder -= d
            whole += 1
        }
        if remainder >= d {
            whole += remainder / d
            remainder %= d
        }
        var count: UInt128 = 0
        while count < whole {
            guard bernoulliExpFraction(numerator: 1, denominator: 1, &source, &bits) else { return false }
            count += 1
        }
        return bernoulliExpFraction(numerator: remainder, denominator: d, &source, &bits)
    }

    /// Bernoulli(exp(−∞)) as an exact limit of Algorithm 1: trials of exp(−1) until one fails (its success for ever
    /// has probability 0; past 2²⁸ successes the remainder is below exp(−2²⁸)).
    private func bernoulliExpMinusInfinite<Source: RandomNumberGenerator>(
        _ source: inout Source, _ bits: inout RandomBits
    ) -> Bool {
        while bernoulliExpFraction(numerator: 1, denominator: 1, &source, &bits) {}
        return false
    }

    /// Bernoulli(exp(−γ)) for γ = n/d ∈ [0, 1]: K counts trials of Bernoulli(γ/K) until one fails; the answer is
    /// whether K ends odd. Bernoulli(γ/K) is Bernoulli(n/d) and Bernoulli(1/K), so no product of d and K is formed.
    @inline(__always)
    private func bernoulliExpFraction<Source: RandomNumberGenerator>(
        numerator n: UInt128, denominator d: UInt128, _ source: inout Source, _ bits: inout RandomBits
    ) -> Bool {
        var k: UInt64 = 1
        while Self.bernoulli(numerator: n, denominator: d, &source, &bits) && Self.bernoulli(oneIn: k, &source, &bits) {
            k += 1
        }
        return k & 1 == 1
    }

    /// Bernoulli(n/d) for d ≤ 2¹²⁶, without a division: a uniform U in [0, 1) is below n/d exactly when, at the first
    /// binary digit where the two differ, U has the 0. U's digits are fresh random bits, n/d's come one at a time by
    /// long division (double the remainder, subtract d when it fits); two bits are needed on average. No draw when n is
    /// 0 or at least d.
    @inline(__always)
    private static func bernoulli<Source: RandomNumberGenerator>(
        numerator n: UInt128, denominator d: UInt128, _ source: inout Source, _ bits: inout RandomBits
    ) -> Bool {
        if n == 0 { return false }
        if n >= d { return true }
        if d < 1 << 63 { return bernoulli(UInt64(n), over: UInt64(d), &source, &bits) }
        var remainder = n
        while true {
            remainder <<= 1
            let digit = remainder >= d
            if digit { remainder -= d }
            if bits.next(&source) != digit { return digit }
        }
    }

    /// Bernoulli(n/d) for 0 < n < d < 2⁶³, `bernoulli(numerator:denominator:)` in 64 bits.
    @inline(__always)
    private static func bernoulli<Source: RandomNumberGenerator>(
        _ n: UInt64, over d: UInt64, _ source: inout Source, _ bits: inout RandomBits
    ) -> Bool {
        var remainder = n
        while true {
            remainder <<= 1
            let digit = remainder >= d
            if digit { remainder -= d }
            if bits.next(&source) != digit { return digit }
        }
    }

    /// Bernoulli(1/k) (k < 2⁶³).
    @inline(__always)
    private static func bernoulli<Source: RandomNumberGenerator>(
        oneIn k: UInt64, _ source: inout Source, _ bits: inout RandomBits
    ) -> Bool {
        k <= 1 || bernoulli(1, over: k, &source, &bits)
    }

    /// ⌊√(a/b)⌋: the largest n with n²·b ≤ a.
    static func floorSquareRoot(numerator a: UInt64, denominator b: UInt64) -> UInt64 {
        var low: UInt64 = 0
        var high: UInt64 = 1 << 32
        while low < high {
            let middle = low + (high - low + 1) / 2
            let (square, overflow) = UInt128(middle).multipliedReportingOverflow(by: UInt128(middle))
            let fits = !overflow && square * UInt128(b) <= UInt128(a)
            if fits { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The product of `factors`, nil when it leaves 128 bits.
    private static func product(_ factors: [UInt128]) -> UInt128? {
        var result: UInt128 = 1
        for factor in factors {
            let (next, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = next
        }
        return result
    }
}

/// The source's words as bits, lowest first, for the Bernoulli trials of one sample; bits left over when it ends are
/// dropped (each is drawn afresh, so dropping them biases nothing).
private struct RandomBits {
    private var word: UInt64 = 0
    private var remaining = 0

    @inline(__always)
    mutating func next<Source: RandomNumberGenerator>(_ source: inout Source) -> Bool {
        if remaining == 0 {
            word = source.next()
            remaining = 64
        }
        let bit = word & 1 == 1
        word >>= 1
        remaining -= 1
        return bit
    }
}
