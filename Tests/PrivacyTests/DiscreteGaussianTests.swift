import CloisterCrypto
import CloisterTestSupport
import Foundation
import Privacy
import Testing

@Suite("Discrete Gaussian: exact samples of N_Z(0, σ²) in integer arithmetic (Canonne, Kamath, Steinke 2020)")
struct DiscreteGaussianTests {
    static let key = [UInt8](repeating: 1, count: 32)

    /// N_Z(0, a/b) drawing from a keyed stream.
    struct Sampler {
        let distribution: DiscreteGaussian
        var source: KeyedRandomStream

        mutating func next() -> Int64 { distribution.sample(using: &source) }
    }

    static func sampler(_ a: UInt64, _ b: UInt64, stream: UInt64 = 7) throws -> Sampler {
        Sampler(
            distribution: try DiscreteGaussian(varianceNumerator: a, varianceDenominator: b),
            source: try KeyedRandomStream(key: key, stream: stream))
    }

    /// P[X = x] ∝ exp(−x²/2σ²) over |x| ≤ 40σ + 40 (beyond, the mass is below 1e−300).
    static func mass(variance: Double) -> (range: ClosedRange<Int>, probability: [Double]) {
        let limit = Int((40 * variance.squareRoot()).rounded(.up)) + 40
        let weights = (-limit...limit).map { exp(-Double($0 * $0) / (2 * variance)) }
        let total = weights.reduce(0, +)
        return (-limit...limit, weights.map { $0 / total })
    }

    /// The upper 1e−6 quantile of χ² with `degrees` degrees of freedom (Wilson–Hilferty).
    static func criticalValue(degrees: Int) -> Double {
        let k = Double(degrees)
        let z = 4.753  // Φ⁻¹(1 − 1e−6)
        let cube = 1 - 2 / (9 * k) + z * (2 / (9 * k)).squareRoot()
        return k * cube * cube * cube
    }

    @Test(
        "a million draws fit the exact mass (χ², p = 1e−6) and are symmetric, for σ from 0.5 to 1,000",
        arguments: [(UInt64(1), UInt64(4)), (2, 1), (9, 1), (1_000_000, 1)])
    func chiSquare(_ a: UInt64, _ b: UInt64) throws {
        var sampler = try Self.sampler(a, b, stream: a &* 31 &+ b)
        let variance = Double(a) / Double(b)
        let (range, probability) = Self.mass(variance: variance)
        let draws = 1_000_000
        var counts = [Int](repeating: 0, count: range.count)
        for _ in 0..<draws {
            let value = Int(sampler.next())
            try #require(range.contains(value), "a draw of \(value) for σ² = \(variance)")
            counts[value - range.lowerBound] += 1
        }
        // Bins of consecutive integers, each expecting at least 20 draws (the tails merged into their neighbours).
        var bins: [(observed: Double, expected: Double)] = []
        var current = (observed: 0.0, expected: 0.0)
        var remaining = Double(draws)
        for index in counts.indices {
            let expected = probability[index] * Double(draws)
            current = (current.observed + Double(counts[index]), current.expected + expected)
            remaining -= expected
            if current.expected >= 20 && remaining >= 20 {
                bins.append(current)
                current = (0, 0)
            }
        }
        bins.append(current)
        let statistic = bins.reduce(0) { $0 + ($1.observed - $1.expected) * ($1.observed - $1.expected) / $1.expected }
        #expect(bins.count > 3)
        #expect(
            statistic < Self.criticalValue(degrees: bins.count - 1),
            "χ² \(statistic) over \(bins.count) bins, σ² = \(variance)")
        // Symmetry: draws above 0 against draws below, a fair coin's split within 5 standard deviations.
        let zero = -range.lowerBound
        let positive = counts[(zero + 1)...].reduce(0, +)
        let negative = counts[..<zero].reduce(0, +)
        let spread = 5 * Double(positive + negative).squareRoot()
        #expect(Double(abs(positive - negative)) < spread, "\(positive) above 0, \(negative) below")
    }

    @Test(
        "known answers: the same words give the same samples as a Python implementation of CKS's algorithms",
        arguments: [(UInt64(1), UInt64(4)), (9, 1), (7, 3), (1_000_000, 1), (1 << 40, 1)])
    func knownAnswers(_ a: UInt64, _ b: UInt64) throws {
        let python = try #require(TestEnvironment.python, "set CLOISTER_PYTHON (make test does)")
        let count = 2_000
        let output = try runTool(
            python,
            [
                TestEnvironment.interopScript("discrete_gaussian.py"), "sample", "--key", hexString(Self.key),
                "--stream", "7", "--numerator", "\(a)", "--denominator", "\(b)", "--count", "\(count)",
            ])
        try #require(output.status == 0, "discrete_gaussian.py failed: \(output.standardError)")
        let theirs = output.standardOutput.split(separator: "\n").map { Int64($0) }
        var sampler = try Self.sampler(a, b)
        let ours = (0..<count).map { _ in Optional(sampler.next()) }
        #expect(ours == theirs, "σ² = \(a)/\(b)")
    }

    @Test("parameters whose arithmetic would leave 128 bits, and zero variances, are refused")
    func refusals() throws {
        for (a, b) in [(UInt64(0), UInt64(1)), (1, 0), (1, (1 << 32) + 1), (UInt64.max, 1), (1 << 52, 1)] {
            #expect(throws: PrivacyError.self, "\(a)/\(b)") { _ = try Self.sampler(a, b) }
        }
        // σ = 2²⁴ still fits: 2·σ²·(σ + 1)² < 2¹⁰⁰.
        var large = try Self.sampler(1 << 48, 1)
        #expect(abs(large.next()) < 1 << 30)
    }

    @Test("the sampling code holds no floating point: a Double, a Float or a libm call put back fails this test")
    func integerOnly() throws {
        let source = try String(
            contentsOf: TestEnvironment.packageRoot.appendingPathComponent(
                "Sources/Privacy/DiscreteGaussian.swift"),
            encoding: .utf8)
        let code = source.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
        for token in ["Double", "Float", "exp(", "log(", "sqrt(", "squareRoot", "pow(", ".pi"] {
            let lines = code.filter { $0.contains(token) }
            #expect(lines.isEmpty, "\(token) on the sampling path: \(lines)")
        }
        #expect(code.count > 100, "the file was read")
    }
}
