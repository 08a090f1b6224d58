/// Exact samples of the discrete Gaussian N_ℤ(0, σ²), P[X = x] ∝ exp(−x²/2σ²) on the integers, for a rational variance
/// σ² = a/b, by rejection from blocks. The magnitudes are cut into blocks of w = 2^s integers, σ/w in [16, 32)
/// (w = 1 below σ = 32; `BlockGeometry`). A sample picks block j with probability ∝ e^(−(jw)²/2σ²) from a table
/// (`BlockTable`), an offset J uniform in 0..<w and a sign, and keeps m = jw + J with probability
/// e^(−(m² − (jw)²)/2σ²), 0.98 on average; a negative zero is drawn again. Each magnitude m is then kept with probability
/// ∝ e^(−(jw)²/2σ²)·e^(−(m² − (jw)²)/2σ²) = e^(−m²/2σ²), as N_ℤ(0, σ²) asks.
///
/// Every step is exact and integer: the block's choice compares a uniform's bits with rigorous bounds on the blocks'
/// cumulative masses, refined until the comparison is decided (`BlockTable`); the keep is Canonne, Kamath and Steinke's
/// Bernoulli(exp(−γ)) for rational γ ("The Discrete Gaussian for Differential Privacy", NeurIPS 2020, Algorithm 1) from
/// Bernoulli trials of rational probability, each comparing random bits with the binary digits of n/d. Nothing on the
/// sampling path touches a floating-point value, so the output has the distribution the accountants analyse exactly,
/// with no holes and no cut-off (a floating-point sampler has both: Mironov 2012, Jin et al. 2022). The one departure
/// is a magnitude past 2⁴⁶, of probability below e^(−2³¹), which is drawn again (`BlockGeometry.maximumMagnitude`).
///
/// A sample takes two 64-bit words and a few bits of a third in the common case, with no division: about four times
/// faster than CKS's rejection from the discrete Laplace, which this type ran before (README, "Exact noise").
///
/// Private noise draws from OpenSSL's DRBG (`BufferedSecureRandom`) or a keyed AES-CTR stream; a seeded source gives
/// the same samples every time (the known-answer test replays them against a Python implementation on the same words).
public struct DiscreteGaussian: Sendable, Hashable {
    /// σ² = varianceNumerator / varianceDenominator.
    public let varianceNumerator: UInt64
    public let varianceDenominator: UInt64
    @usableFromInline let table: BlockTable

    /// The largest variance numerator accepted: σ² ≤ 2⁶⁰ keeps every product of the sampler within 128 bits.
    public static let maximumVarianceNumerator: UInt64 = 1 << 60

    /// N_ℤ(0, a/b); refuses a zero numerator or denominator, a numerator above 2⁶⁰ and a denominator above 2³².
    public init(varianceNumerator a: UInt64, varianceDenominator b: UInt64) throws(PrivacyError) {
        try Self.check(a, b)
        self.init(checked: a, b, table: BlockTable.shared(varianceNumerator: a, varianceDenominator: b))
    }

    /// N_ℤ(0, a/b) with its table's bounds at `precision` bits: coarse bounds make the exact comparisons that settle
    /// close calls run often, which the tests need (at 128 bits they run about once in 2⁵⁵ draws).
    init(varianceNumerator a: UInt64, varianceDenominator b: UInt64, tablePrecision precision: Int)
        throws(PrivacyError)
    {
        try Self.check(a, b)
        self.init(checked: a, b, table: BlockTable(varianceNumerator: a, varianceDenominator: b, precision: precision))
    }

    private init(checked a: UInt64, _ b: UInt64, table: BlockTable) {
        varianceNumerator = a
        varianceDenominator = b
        self.table = table
    }

    private static func check(_ a: UInt64, _ b: UInt64) throws(PrivacyError) {
        guard a > 0, a <= maximumVarianceNumerator, b > 0, b <= 1 << 32 else {
            throw PrivacyError(
                .invalidParameter,
                "the discrete Gaussian's variance \(a)/\(b) needs a numerator in 1...2^60 and a denominator in 1...2^32"
            )
        }
    }

    public static func == (left: DiscreteGaussian, right: DiscreteGaussian) -> Bool {
        left.varianceNumerator == right.varianceNumerator && left.varianceDenominator == right.varianceDenominator
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(varianceNumerator)
        hasher.combine(varianceDenominator)
    }

    /// One sample of N_ℤ(0, σ²) from `source`'s words: per try, a word for the block, a word for the offset (its low
    /// s bits) and the sign (its top bit), then the keep's Bernoulli trials on bits of further words (`RandomBits`,
    /// which a sample starts afresh and its tries share).
    @inlinable
    public func sample<Source: RandomNumberGenerator>(using source: inout Source) -> Int64 {
        var bits = RandomBits()
        let shift = UInt64(table.geometry.shift)
        let b = UInt128(varianceDenominator)
        let denominator = 2 * UInt128(varianceNumerator)
        let (guide, upper, lower) = (table.guide, table.upper, table.lower)
        while true {
            let word = source.next()
            var block = Int(guide[Int(word >> 56)])
            while word > upper[block] { block += 1 }
            if word >= lower[block] {
                guard let exact = table.exactBlock(word: word, from: block, using: &source) else { continue }
                block = exact
            }
            let placement = source.next()
            let offset = placement & ((1 << shift) - 1)
            let negative = placement >> 63 == 1
            let start = UInt64(block) << shift
            let magnitude = start | offset
            if negative && magnitude == 0 { continue }
            // Keep with probability e^(−((jw + J)² − (jw)²)/2σ²) = e^(−(2·jw·J + J²)·b/2a): within the table an
            // exponent below 1 over a 64-bit denominator, in 64 bits.
            let numerator = (2 * UInt128(start) * UInt128(offset) + UInt128(offset) * UInt128(offset)) * b
            let kept =
                numerator < denominator && denominator < 1 << 63
                ? Self.bernoulliExpFraction(UInt64(numerator), over: UInt64(denominator), &source, &bits)
                : bernoulliExp(numerator: numerator, denominator: denominator, &source, &bits)
            if kept { return negative ? -Int64(magnitude) : Int64(magnitude) }
        }
    }

    /// Bernoulli(exp(−n/d)) for n ≥ 0, d > 0 (CKS's Algorithm 1): exp(−1) ⌊n/d⌋ times, then exp(−(n mod d)/d). ⌊n/d⌋ is
    /// found by subtraction while it is small (a 128-bit division costs more than the trials it counts).
    @inlinable
    func bernoulliExp<Source: RandomNumberGenerator>(
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

    /// Bernoulli(exp(−γ)) for γ = n/d ∈ [0, 1]: K counts trials of Bernoulli(γ/K) until one fails; the answer is
    /// whether K ends odd. Bernoulli(γ/K) is Bernoulli(n/d) and Bernoulli(1/K), so no product of d and K is formed.
    @inlinable @inline(__always)
    func bernoulliExpFraction<Source: RandomNumberGenerator>(
        numerator n: UInt128, denominator d: UInt128, _ source: inout Source, _ bits: inout RandomBits
    ) -> Bool {
        var k: UInt64 = 1
        while Self.bernoulli(numerator: n, denominator: d, &source, &bits) && Self.bernoulli(oneIn: k, &source, &bits) {
            k += 1
        }
        return k & 1 == 1
    }

    /// `bernoulliExpFraction(numerator:denominator:)` for n < d < 2⁶³, in 64 bits.
    @inlinable @inline(__always)
    static func bernoulliExpFraction<Source: RandomNumberGenerator>(
        _ n: UInt64, over d: UInt64, _ source: inout Source, _ bits: inout RandomBits
    ) -> Bool {
        var k: UInt64 = 1
        while n > 0 && bernoulli(n, over: d, &source, &bits) && bernoulli(oneIn: k, &source, &bits) { k += 1 }
        return k & 1 == 1
    }

    /// Bernoulli(n/d) for d ≤ 2¹²⁶, without a division: a uniform U in [0, 1) is below n/d exactly when, at the first
    /// binary digit where the two differ, U has the 0. U's digits are fresh random bits, n/d's come one at a time by
    /// long division (double the remainder, subtract d when it fits); two bits are needed on average. No draw when n is
    /// 0 or at least d.
    @inlinable @inline(__always)
    static func bernoulli<Source: RandomNumberGenerator>(
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
    @inlinable @inline(__always)
    static func bernoulli<Source: RandomNumberGenerator>(
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
    @inlinable @inline(__always)
    static func bernoulli<Source: RandomNumberGenerator>(
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
}

/// The source's words as bits, lowest first, for the Bernoulli trials of one sample; bits left over when it ends are
/// dropped (each is drawn afresh, so dropping them biases nothing).
@usableFromInline
struct RandomBits {
    @usableFromInline var word: UInt64 = 0
    @usableFromInline var remaining = 0

    @inlinable
    init() {}

    @inlinable @inline(__always)
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
