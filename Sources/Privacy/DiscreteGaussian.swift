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
/// Bernoulli trials of rational probability, each comparing 32 random bits with n/d's first base-2³² digit (and, on a
/// tie, further digits with the remainder's). Nothing on the
/// sampling path touches a floating-point value, so the output has the distribution the accountants analyse exactly,
/// with no holes and no cut-off (a floating-point sampler has both: Mironov 2012, Jin et al. 2022). The one departure
/// is a magnitude past 2⁴⁶, of probability below e^(−2³¹), which is drawn again (`BlockGeometry.maximumMagnitude`).
///
/// A sample takes one and a half 64-bit words in the common case (a word for the block, the offset and the sign; half
/// a word for the keep's one trial) and no division: many times faster than CKS's rejection from the discrete Laplace,
/// which this type ran before (README, "Exact noise").
///
/// Private noise draws from OpenSSL's DRBG (`BufferedSecureRandom`) or a keyed AES-CTR stream; a seeded source gives
/// the same samples every time (the known-answer test replays them against a Python implementation on the same words).
public struct DiscreteGaussian: Sendable, Hashable {
    /// σ² = varianceNumerator / varianceDenominator.
    public let varianceNumerator: UInt64
    public let varianceDenominator: UInt64
    /// The precision of its table's bounds: 128 bits (the tests coarsen it). The samples do not depend on it, since
    /// every decision is exact; only how often the exact comparison runs does.
    @usableFromInline let tablePrecision: Int

    /// The largest variance numerator accepted: σ² ≤ 2⁶⁰ keeps every product of the sampler within 128 bits.
    public static let maximumVarianceNumerator: UInt64 = 1 << 60

    /// N_ℤ(0, a/b); refuses a zero numerator or denominator, a numerator above 2⁶⁰ and a denominator above 2³². Its
    /// table is built at the first draw, not here: a distribution made only to check a configuration costs nothing.
    public init(varianceNumerator a: UInt64, varianceDenominator b: UInt64) throws(PrivacyError) {
        try self.init(varianceNumerator: a, varianceDenominator: b, tablePrecision: 128)
    }

    /// N_ℤ(0, a/b) with its table's bounds at `precision` bits: coarse bounds make the exact comparisons that settle
    /// close calls run often, which the tests need (at 128 bits they run about once in 2⁵⁵ draws).
    init(varianceNumerator a: UInt64, varianceDenominator b: UInt64, tablePrecision precision: Int)
        throws(PrivacyError)
    {
        guard a > 0, a <= Self.maximumVarianceNumerator, b > 0, b <= 1 << 32 else {
            throw PrivacyError(
                .invalidParameter,
                "the discrete Gaussian's variance \(a)/\(b) needs a numerator in 1...2^60 and a denominator in 1...2^32"
            )
        }
        varianceNumerator = a
        varianceDenominator = b
        tablePrecision = precision
    }

    public static func == (left: DiscreteGaussian, right: DiscreteGaussian) -> Bool {
        left.varianceNumerator == right.varianceNumerator && left.varianceDenominator == right.varianceDenominator
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(varianceNumerator)
        hasher.combine(varianceDenominator)
    }

    /// Its block table, built once per process for each variance (`BlockTable.shared`).
    @usableFromInline var table: BlockTable {
        BlockTable.shared(
            varianceNumerator: varianceNumerator, varianceDenominator: varianceDenominator,
            precision: tablePrecision)
    }

    /// Builds its block table now, if this process has not (a step thread does so for a step's noise while the
    /// step's own thread builds another).
    public func prepare() { _ = table }

    /// One sample of N_ℤ(0, σ²) from `source`'s words (`samples(count:using:)` for many: it finds the table once).
    @inlinable
    public func sample<Source: RandomNumberGenerator>(using source: inout Source) -> Int64 {
        var halves = RandomHalves()
        return Self.sample(from: table, using: &source, &halves)
    }

    /// `count` independent samples of N_ℤ(0, σ²) from `source`'s words.
    @inlinable
    public func samples<Source: RandomNumberGenerator>(count: Int, using source: inout Source) -> [Int64] {
        Array(unsafeUninitializedCapacity: count) { buffer, initialized in
            fill(buffer, using: &source)
            initialized = count
        }
    }

    /// Fills `buffer` (initialised or not: the samples are plain integers) with independent samples of N_ℤ(0, σ²) from
    /// `source`'s words; the Bernoulli trials' half-words run on from one sample to the next (`RandomHalves`).
    @inlinable
    public func fill<Source: RandomNumberGenerator>(
        _ buffer: UnsafeMutableBufferPointer<Int64>, using source: inout Source
    ) {
        let table = table
        var halves = RandomHalves()
        for index in buffer.indices { buffer[index] = Self.sample(from: table, using: &source, &halves) }
    }

    /// One sample from `table`: per try, a word whose high half picks the block (against the thresholds' high halves;
    /// where a threshold's two bounds share U's first 32 bits, one time in about 2³¹, U's next 32 bits from `halves`
    /// and the 64-bit thresholds decide, and past them `BlockTable.exactBlock`), and whose low half gives the offset
    /// (its low s bits, s ≤ 26) and the sign (bit 31); then the keep's Bernoulli trials, 32 bits each from `halves`.
    @inlinable @inline(__always)
    static func sample<Source: RandomNumberGenerator>(
        from table: BlockTable, using source: inout Source, _ halves: inout RandomHalves
    ) -> Int64 {
        let shift = UInt64(table.geometry.shift)
        let b = UInt128(table.geometry.varianceDenominator)
        let denominator = 2 * table.geometry.varianceNumerator
        while true {
            let word = source.next()
            let top = word >> 32
            var block = table.firstCandidate(for: word)
            // Past block j for every word with this high half when top·2³² > upper[j]; below F_j for every one when
            // top·2³² + 2³² − 1 < lower[j].
            while top > table.upper[block] >> 32 { block += 1 }
            if top >= table.lower[block] >> 32 {
                let prefix = top << 32 | halves.next(&source)
                while prefix > table.upper[block] { block += 1 }
                if prefix >= table.lower[block] {
                    guard let exact = table.exactBlock(word: prefix, from: block, using: &source) else { continue }
                    block = exact
                }
            }
            let offset = word & ((1 << shift) - 1)
            let negative = word & (1 << 31) != 0
            let start = UInt64(block) << shift
            let magnitude = start | offset
            if negative && magnitude == 0 { continue }
            // Keep with probability e^(−((jw + J)² − (jw)²)/2σ²) = e^(−(2·jw·J + J²)·b/2a); 2a ≤ 2⁶¹. Within the table
            // the exponent is below 1.
            let numerator = (2 * UInt128(start) * UInt128(offset) + UInt128(offset) * UInt128(offset)) * b
            let kept =
                numerator < denominator
                ? bernoulliExpFraction(UInt64(numerator), over: denominator, &source, &halves)
                : bernoulliExp(numerator: numerator, denominator: denominator, &source, &halves)
            if kept { return negative ? -Int64(magnitude) : Int64(magnitude) }
        }
    }

    /// Bernoulli(exp(−n/d)) for n ≥ 0, 0 < d ≤ 2⁶² (CKS's Algorithm 1): exp(−1) ⌊n/d⌋ times, each as exp(−½) twice,
    /// then exp(−(n mod d)/d). Only past the table's end is the exponent 1 or more.
    @usableFromInline
    static func bernoulliExp<Source: RandomNumberGenerator>(
        numerator n: UInt128, denominator d: UInt64, _ source: inout Source, _ halves: inout RandomHalves
    ) -> Bool {
        let (whole, remainder) = n.quotientAndRemainder(dividingBy: UInt128(d))
        for _ in 0..<whole {
            guard bernoulliExpFraction(1, over: 2, &source, &halves),
                bernoulliExpFraction(1, over: 2, &source, &halves)
            else { return false }
        }
        return bernoulliExpFraction(UInt64(remainder), over: d, &source, &halves)
    }

    /// Bernoulli(exp(−γ)) for γ = n/d ∈ [0, 1), d ≤ 2⁶²: K counts trials of Bernoulli(γ/K) until one fails; the answer
    /// is whether K ends odd. Bernoulli(γ/K) is Bernoulli(n/d) and Bernoulli(1/K), so no product of d and K is formed.
    @inlinable @inline(__always)
    static func bernoulliExpFraction<Source: RandomNumberGenerator>(
        _ n: UInt64, over d: UInt64, _ source: inout Source, _ halves: inout RandomHalves
    ) -> Bool {
        var k: UInt64 = 1
        while n > 0 && bernoulli(n, over: d, &source, &halves)
            && (k == 1 || bernoulli(1, over: k, &source, &halves))
        {
            k += 1
        }
        return k & 1 == 1
    }

    /// Bernoulli(n/d) for 0 < n < d ≤ 2⁶²: a uniform U in [0, 1) against n/d, U's digits in base 2³² (each 32 random
    /// bits from `halves`) against n/d's. With the digit u and P = u·d, N = n·2³²: U < n/d for certain when
    /// P + d ≤ N (u is below n/d's digit), U ≥ n/d when P ≥ N (u is above it, or equal with nothing left over);
    /// otherwise u is n/d's digit and the rest of U is compared with the remainder (N − P)/d in the same way, one time
    /// in 2³². One product and no division a digit.
    @inlinable @inline(__always)
    static func bernoulli<Source: RandomNumberGenerator>(
        _ n: UInt64, over d: UInt64, _ source: inout Source, _ halves: inout RandomHalves
    ) -> Bool {
        var remainder = n
        while true {
            let (high, low) = halves.next(&source).multipliedFullWidth(by: d)
            let product = UInt128(high) << 64 | UInt128(low)
            let target = UInt128(remainder) << 32
            if product + UInt128(d) <= target { return true }
            if product >= target { return false }
            remainder = UInt64(target - product)
        }
    }
}

/// The source's words as 32-bit halves, the low half first, for the samples' Bernoulli trials and their blocks' rare
/// further bits: a half left over when a sample ends is the next sample's first (each bit is drawn afresh, so which
/// sample uses it biases nothing), and one left over at the end of a fill is dropped.
@usableFromInline
struct RandomHalves {
    @usableFromInline var spare: UInt64 = 0
    @usableFromInline var hasSpare = false

    @inlinable
    init() {}

    /// 32 random bits, in the low half of the result.
    @inlinable @inline(__always)
    mutating func next<Source: RandomNumberGenerator>(_ source: inout Source) -> UInt64 {
        if hasSpare {
            hasSpare = false
            return spare
        }
        let word = source.next()
        spare = word >> 32
        hasSpare = true
        return word & 0xFFFF_FFFF
    }
}
