/// Rigorous bounds on e^(−p/q) for natural p and q, in fixed point: naturals L and H with L ≤ e^(−p/q)·2^P ≤ H at a
/// precision of P bits, in integer arithmetic only (`Natural`). The discrete Gaussian's block table compares its random
/// bits with them, and asks for more precision when a comparison is too close to call (`BlockTable`), so the bounds
/// need only be true and tighten as P grows: with p/q = n + f (n whole, 0 ≤ f < 1), e^(−f) is the alternating Taylor
/// series cut where a term falls below 2^(−P) (its error is at most that term), e^(−n) is e^(−1) to the n by
/// squaring, and every product and quotient rounds its lower bound down and its upper bound up.
struct ExponentialBounds: Sendable {
    /// P.
    let precision: Int
    /// Bounds on e^(−1), which every whole part is a power of.
    private let inverseE: Enclosure

    init(precision: Int) {
        precondition(precision > 0, "bounds need a precision")
        self.precision = precision
        inverseE = Self.series(numerator: 1, denominator: 1, precision: precision)
    }

    /// (L, H) with L ≤ e^(−p/q)·2^P ≤ H (q > 0).
    func of(numerator p: UInt128, denominator q: UInt64) -> Enclosure {
        precondition(q > 0, "e^(−p/q) needs q > 0")
        let (whole, fraction) = p.quotientAndRemainder(dividingBy: UInt128(q))
        // e^(−n) ≤ 2^(−n) ≤ 2^(−P) once n ≥ P: one unit bounds it.
        guard whole < UInt128(precision) else { return Enclosure(lower: Natural(0), upper: Natural(1)) }
        let fractional = Self.series(numerator: UInt64(fraction), denominator: q, precision: precision)
        guard whole > 0 else { return fractional }
        return Self.power(inverseE, Int(whole), precision).times(fractional, precision: precision)
    }

    /// e^(−r/q) for 0 ≤ r ≤ q: Σₖ (−r/q)ᵏ/k!, whose terms fall from k = 1 on, stopped at the first term below 2^(−P);
    /// the remainder of an alternating series with falling terms is at most the last term taken.
    private static func series(numerator r: UInt64, denominator q: UInt64, precision: Int) -> Enclosure {
        let one = Natural.power(of2: precision)
        guard r > 0 else { return Enclosure(lower: one, upper: one) }
        var term = Enclosure(lower: one, upper: one)
        var positive = term
        var negative = Enclosure(lower: Natural(0), upper: Natural(0))
        var k: UInt64 = 1
        let unit = Natural(1)
        while term.upper > unit {
            term.lower = (term.lower * Natural(r)).divided(by: q, roundingUp: false).divided(by: k, roundingUp: false)
            term.upper = (term.upper * Natural(r)).divided(by: q, roundingUp: true).divided(by: k, roundingUp: true)
            if k & 1 == 1 {
                negative = negative + term
            } else {
                positive = positive + term
            }
            k += 1
        }
        // The series stopped after a term of at most one unit, so the rest is within one unit either way.
        return Enclosure(
            lower: positive.lower.subtractingSaturated(negative.upper + unit),
            upper: positive.upper.subtractingSaturated(negative.lower) + unit)
    }

    /// xⁿ for bounds x of a number in [0, 1], by squaring.
    private static func power(_ base: Enclosure, _ exponent: Int, _ precision: Int) -> Enclosure {
        let one = Natural.power(of2: precision)
        var result = Enclosure(lower: one, upper: one)
        var square = base
        var remaining = exponent
        while remaining > 0 {
            if remaining & 1 == 1 { result = result.times(square, precision: precision) }
            remaining >>= 1
            if remaining > 0 { square = square.times(square, precision: precision) }
        }
        return result
    }
}

/// A number's bounds in fixed point: lower ≤ value·2^P ≤ upper.
struct Enclosure: Sendable {
    var lower: Natural
    var upper: Natural

    static func + (left: Enclosure, right: Enclosure) -> Enclosure {
        Enclosure(lower: left.lower + right.lower, upper: left.upper + right.upper)
    }

    /// Bounds on the product of two nonnegative numbers bounded at `precision`.
    func times(_ other: Enclosure, precision: Int) -> Enclosure {
        Enclosure(
            lower: (lower * other.lower).shiftedRight(precision, roundingUp: false),
            upper: (upper * other.upper).shiftedRight(precision, roundingUp: true))
    }
}
