/// Poisson sampling at a rational rate m/n, exactly as the accountants assume it: each record joins independently, with
/// probability exactly m/n, decided by comparing a uniform number with m/n exactly (`sample`), or when a uniform integer
/// below n (drawn by rejection, unbiased) is below m (`includes`). A floating-point
/// comparison u < q would sample at the nearest multiple of 2⁻⁵³ instead; the rates Cloister samples at are ratios
/// of counts (a batch size over a training set, a cohort over the registered clients), so no rounding is needed.
public enum PoissonSampling {
    /// Whether one record joins, with probability `m`/`n` (0 ≤ m ≤ n, n > 0).
    @inlinable
    public static func includes<Source: RandomNumberGenerator>(
        _ m: Int, outOf n: Int, using source: inout Source
    ) -> Bool {
        precondition(n > 0 && m >= 0 && m <= n, "a sampling rate is a count over a positive count")
        return source.uniformInteger(below: UInt64(n)) < UInt64(m)
    }

    /// The rate the accountants take for sampling at `m`/`n`: the smallest double at or above m/n (the nearest double
    /// is below m/n about half the time, and privacy loss grows with the rate).
    public static func rate(_ m: Int, outOf n: Int) -> Double {
        let nearest = Double(m) / Double(n)
        // m and n are exact doubles (below 2⁵³), so the fused q·n − m has the sign of the exact one.
        return (-Double(m)).addingProduct(nearest, Double(n)) < 0 ? nearest.nextUp : nearest
    }

    /// The indices in 0..<`records` that join, in order, each with probability `m`/`n`.
    ///
    /// Each record's trial reads 16 bits u of a word (four records a word): with m·2¹⁶/n = t + r/n (t, r integers,
    /// r < n), the record's uniform U = (u + F)/2¹⁶ is below m/n exactly when u < t, or u = t and F < r/n, and the
    /// second, one time in 2¹⁶, is drawn as its own trial at r/n (`includes`). Every decision is the exact one, in a
    /// quarter of the words one uniform integer a record takes.
    @inlinable
    public static func sample<Source: RandomNumberGenerator>(
        _ records: Int, rate m: Int, outOf n: Int, using source: inout Source
    ) -> [Int] {
        precondition(n > 0 && m >= 0 && m <= n, "a sampling rate is a count over a positive count")
        guard m < n else { return Array(0..<records) }
        let (whole, fraction) = (UInt128(m) << 16).quotientAndRemainder(dividingBy: UInt128(n))
        let (threshold, remainder) = (SIMD4(repeating: UInt16(whole)), Int(fraction))
        var joined: [Int] = []
        joined.reserveCapacity(Int(UInt128(records) * UInt128(m) / UInt128(n)) + 16)
        // A word's four 16-bit lanes, lowest first, compared at once: most words decide that none of their records joins.
        for first in stride(from: 0, to: records, by: 4) {
            let lanes = unsafeBitCast(source.next(), to: SIMD4<UInt16>.self)
            let candidates = lanes .<= threshold
            guard any(candidates) else { continue }
            for lane in 0..<min(4, records - first) where candidates[lane] {
                if lanes[lane] < threshold[lane] || includes(remainder, outOf: n, using: &source) {
                    joined.append(first + lane)
                }
            }
        }
        return joined
    }
}

extension RandomNumberGenerator {
    /// A uniform integer in [0, m), 0 < m < 2⁶⁴, by Lemire's multiply-and-shift: the high word of m times a random
    /// word, the word drawn again while the low word falls below 2⁶⁴ mod m (the one division is computed only when the
    /// low word is below m, which happens with probability m/2⁶⁴). Exact. Inlinable, so that it is specialised where it
    /// is called (the standard library's `next(upperBound:)` ran unspecialised in generic callers, through its metadata).
    @inlinable
    public mutating func uniformInteger(below m: UInt64) -> UInt64 {
        var (high, low) = next().multipliedFullWidth(by: m)
        if low < m {
            let threshold = (0 &- m) % m
            while low < threshold { (high, low) = next().multipliedFullWidth(by: m) }
        }
        return high
    }
}
