import FoundationEssentials
import Glibc

/// Arithmetic on numbers held as their natural logarithms, for sums of terms that under- or overflow a Double.
enum LogSpace {
    /// log(e^a + e^b).
    static func add(_ a: Double, _ b: Double) -> Double {
        let (high, low) = a >= b ? (a, b) : (b, a)
        guard low > -.infinity else { return high }
        return high + log1p(exp(low - high))
    }

    /// log(e^a − e^b) for a ≥ b; −∞ when they are equal.
    static func subtract(_ a: Double, _ b: Double) -> Double {
        precondition(a >= b, "log-space subtraction must not go negative")
        guard b > -.infinity else { return a }
        guard a > b else { return -.infinity }
        let difference = expm1(a - b)
        // For a ≫ b, e^(a−b) overflows while the result is a to the last bit.
        return difference.isFinite ? log(difference) + b : a
    }

    /// log(erfc(x)), accurate where erfc(x) underflows (x ≳ 26) through its asymptotic expansion
    /// erfc(x) ≈ e^(−x²) / (x√π) · (1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶)).
    static func logErfc(_ x: Double) -> Double {
        if x < 25 { return log(erfc(x)) }
        let inverseSquare = 1 / (x * x)
        let series =
            1 - inverseSquare / 2 + 3 * inverseSquare * inverseSquare / 4
            - 15 * inverseSquare * inverseSquare * inverseSquare / 8
        return -x * x - log(x) - 0.5 * log(Double.pi) + log(series)
    }
}
