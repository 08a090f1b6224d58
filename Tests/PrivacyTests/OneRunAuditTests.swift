import CloisterTestSupport
import Foundation
import Privacy
import Testing

@Suite("One-run audit statistics (Steinke, Nasr, Jagielski 2023) against jax_privacy's answers")
struct OneRunAuditTests {
    /// (canaries, guesses, correct, δ, ε lower bound at 95 %) from `jax_privacy.auditing._epsilon_one_run`
    /// (jax-privacy 2.0.0, brentq to 1e−6).
    static let knownAnswers: [(Int, Int, Int, Double, Double)] = [
        (1000, 1000, 1000, 0, 5.809068), (1000, 1000, 1000, 1e-5, 5.782283), (1000, 500, 500, 1e-5, 5.087549),
        (1000, 100, 100, 1e-5, 3.465376), (1000, 100, 90, 1e-5, 1.626143), (1000, 200, 150, 1e-5, 0.819973),
        (10000, 10000, 10000, 1e-5, 7.834303), (31, 31, 31, 1e-5, 2.287177), (1000, 1000, 900, 1e-6, 2.021175),
        (1000, 10, 10, 1e-5, 1.014986),
    ]

    @Test("the lower bound matches jax_privacy's on ten known answers, to 2e−6")
    func knownAnswerBounds() throws {
        for (m, r, v, delta, expected) in Self.knownAnswers {
            let bound = try OneRunAudit.epsilonLowerBound(
                canaries: m, guesses: r, correct: v, delta: delta, confidence: 0.95)
            #expect(
                abs(bound - expected) < 2e-6, "m \(m), r \(r), v \(v), δ \(delta): \(bound), jax_privacy \(expected)")
        }
    }

    @Test("the bound never exceeds the exact one: 10⁵ canaries all guessed right, against a 40-digit computation")
    func neverOverstated() throws {
        // The largest ε rejected at 95 % for m = r = v = 10⁵, δ = 10⁻⁵: bisection in mpmath at 40 digits on the exact
        // p-value (binomial masses by recurrence), 8.12769026218790.
        let exact = 8.12769026218790
        let bound = try OneRunAudit.epsilonLowerBound(
            canaries: 100_000, guesses: 100_000, correct: 100_000, delta: 1e-5, confidence: 0.95)
        #expect(bound <= exact && bound > exact - 1e-6, "\(bound) against \(exact)")
        for (m, r, v, delta, _) in Self.knownAnswers {
            let bound = try OneRunAudit.epsilonLowerBound(
                canaries: m, guesses: r, correct: v, delta: delta, confidence: 0.95)
            let p = try OneRunAudit.pValue(canaries: m, guesses: r, correct: v, epsilon: bound, delta: delta)
            #expect(p * (1 + OneRunAudit.pValueMargin) <= 1 - 0.95, "m \(m), r \(r), v \(v): p \(p) at \(bound)")
        }
    }

    @Test("p-values at ε = 1 match jax_privacy's")
    func knownAnswerPValues() throws {
        let dominated = try OneRunAudit.pValue(canaries: 1000, guesses: 1000, correct: 1000, epsilon: 1, delta: 1e-5)
        #expect(abs(dominated / 6.58862e-5 - 1) < 1e-5)
        let tail = try OneRunAudit.pValue(canaries: 1000, guesses: 200, correct: 150, epsilon: 1, delta: 1e-5)
        #expect(abs(tail - 0.304423) < 1e-6)
    }

    @Test("no better than chance gives 0; δ > 0 never raises the bound; more correct guesses never lower it")
    func monotone() throws {
        #expect(
            try OneRunAudit.epsilonLowerBound(canaries: 100, guesses: 0, correct: 0, delta: 0, confidence: 0.95) == 0)
        #expect(
            try OneRunAudit.epsilonLowerBound(canaries: 1000, guesses: 200, correct: 100, delta: 1e-5, confidence: 0.95)
                == 0)
        var previous = 0.0
        for correct in stride(from: 100, through: 200, by: 10) {
            let pure = try OneRunAudit.epsilonLowerBound(
                canaries: 1000, guesses: 200, correct: correct, delta: 0, confidence: 0.95)
            let approximate = try OneRunAudit.epsilonLowerBound(
                canaries: 1000, guesses: 200, correct: correct, delta: 1e-4, confidence: 0.95)
            #expect(approximate <= pure && pure >= previous, "\(correct) correct")
            previous = pure
        }
    }

    @Test("impossible counts, δ outside [0, 1], a negative ε and confidences outside (0, 1) are refused")
    func refusals() {
        for (m, r, v) in [(0, 0, 0), (10, 11, 5), (10, 5, 6), (10, -1, 0)] {
            #expect(throws: PrivacyError.self) {
                _ = try OneRunAudit.epsilonLowerBound(canaries: m, guesses: r, correct: v, delta: 0, confidence: 0.95)
            }
        }
        #expect(throws: PrivacyError.self) {
            _ = try OneRunAudit.epsilonLowerBound(canaries: 10, guesses: 5, correct: 5, delta: 1.5, confidence: 0.95)
        }
        for confidence in [0.0, 1.0, -0.5, .nan] {
            #expect(throws: PrivacyError.self) {
                _ = try OneRunAudit.epsilonLowerBound(
                    canaries: 10, guesses: 5, correct: 5, delta: 0, confidence: confidence)
            }
        }
        #expect(throws: PrivacyError.self) {
            _ = try OneRunAudit.pValue(canaries: 10, guesses: 5, correct: 5, epsilon: -1, delta: 0)
        }
    }

    @Test("300 random audits: the same lower bound as jax_privacy's, to 2e−6 (its root finder's tolerance)")
    func differential() throws {
        let python = try #require(TestEnvironment.python, "set CLOISTER_PYTHON (make test does)")
        var generator = SystemRandomNumberGenerator()
        let cases: [(Int, Int, Int, Double, Double)] = (0..<300).map { _ in
            let m = Int.random(in: 10...5_000, using: &generator)
            let r = Int.random(in: 1...m, using: &generator)
            let v = Int.random(in: (r / 2)...r, using: &generator)
            let delta = [0, 1e-6, 1e-5, 1e-3].randomElement(using: &generator)!
            return (m, r, v, delta, [0.9, 0.95, 0.99].randomElement(using: &generator)!)
        }
        let input = try JSONSerialization.data(withJSONObject: cases.map { [$0.0, $0.1, $0.2, $0.3, $0.4] })
        let output = try runTool(
            python, [TestEnvironment.interopScript("one_run_audit.py"), "bounds"], input: Array(input))
        try #require(output.status == 0, "one_run_audit.py failed: \(output.standardError)")
        let theirs = output.standardOutput.split(separator: "\n").compactMap { Double($0) }
        try #require(theirs.count == cases.count)
        for ((m, r, v, delta, confidence), reference) in zip(cases, theirs) {
            let ours = try OneRunAudit.epsilonLowerBound(
                canaries: m, guesses: r, correct: v, delta: delta, confidence: confidence)
            #expect(
                abs(ours - reference) < 2e-6,
                "m \(m) r \(r) v \(v) δ \(delta) at \(confidence): \(ours) vs \(reference)")
        }
    }
}
