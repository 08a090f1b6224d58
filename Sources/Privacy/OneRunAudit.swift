import Glibc

/// The statistics of the one-run privacy audit (Steinke, Nasr, Jagielski, "Privacy Auditing with One (1) Training
/// Run", NeurIPS 2023): m canaries, each included in training with probability ½; after training a guesser names r of
/// them included or excluded from the model alone, v correctly. If training is (ε, δ)-DP, for every guesser
/// P[V ≥ v] ≤ f(v) + 2mδ·max_{i=1…v} (f(v−i) − f(v))/i with f(v) = P[W ≥ v], W ~ Binomial(r, e^ε/(1+e^ε)). The
/// largest ε that this rejects at confidence 1 − β is an empirical lower bound on the training's ε.
///
/// The same computation as Google DeepMind's `jax_privacy.auditing` (`_one_run_p_value`, `_epsilon_one_run`), checked
/// against its answers.
public enum OneRunAudit {
    /// The p-value of "the training is (ε, δ)-DP" given `correct` right guesses among `guesses` made about `canaries`.
    public static func pValue(
        canaries m: Int, guesses r: Int, correct v: Int, epsilon: Double, delta: Double
    ) throws(PrivacyError) -> Double {
        try check(canaries: m, guesses: r, correct: v, delta: delta)
        guard epsilon >= 0, epsilon.isFinite else {
            throw PrivacyError(.invalidParameter, "the audited epsilon must be finite and at least 0, got \(epsilon)")
        }
        return probability(canaries: m, guesses: r, correct: v, epsilon: epsilon, delta: delta)
    }

    /// The largest ε whose p-value is at most 1 − `confidence` (0 when even ε = 0 is not rejected): an empirical lower
    /// bound on ε at that confidence, by bisection to 2⁻⁴⁰ within [0, 64]. Every ε it returns was rejected with the
    /// p-value raised by `pValueMargin`, so floating-point error cannot overstate the bound.
    ///
    /// The margin: the p-value is a sum of positive terms, so its relative error is that of its binomial masses, whose
    /// logarithms come from lgamma at arguments up to r + 1 (about 10⁻⁹ at r = 10⁶: ε overstated by 1.5·10⁻⁹ there
    /// without the margin, checked against a 40-digit computation), plus r rounding errors of the sums (10⁻¹⁰).
    public static func epsilonLowerBound(
        canaries m: Int, guesses r: Int, correct v: Int, delta: Double, confidence: Double
    ) throws(PrivacyError) -> Double {
        try check(canaries: m, guesses: r, correct: v, delta: delta)
        guard confidence > 0, confidence < 1 else {
            throw PrivacyError(.invalidParameter, "the audit's confidence must be in (0, 1), got \(confidence)")
        }
        let significance = 1 - confidence
        func rejected(_ epsilon: Double) -> Bool {
            probability(canaries: m, guesses: r, correct: v, epsilon: epsilon, delta: delta) * (1 + pValueMargin)
                <= significance
        }
        guard rejected(0) else { return 0 }
        var (low, high) = (0.0, 1.0)
        while high < 64 && rejected(high) { (low, high) = (high, high * 2) }
        if rejected(high) { return high }
        for _ in 0..<46 {
            let middle = (low + high) / 2
            if rejected(middle) { low = middle } else { high = middle }
        }
        return low
    }

    /// The relative error allowed for in a computed p-value: a hundred times its largest for a million guesses (the
    /// audit makes at most 2·10⁵, `GradientCanaries`); it grows with the guesses, about as lgamma's error at r + 1.
    public static let pValueMargin = 1e-7

    private static func check(canaries m: Int, guesses r: Int, correct v: Int, delta: Double) throws(PrivacyError) {
        guard m >= 1, r >= 0, r <= m, v >= 0, v <= r else {
            throw PrivacyError(
                .invalidParameter,
                "an audit needs 0 ≤ correct ≤ guesses ≤ canaries and at least one canary, got \(v) correct of \(r) guesses about \(m) canaries"
            )
        }
        guard delta >= 0, delta <= 1 else {
            throw PrivacyError(.invalidParameter, "the audited delta must be in [0, 1], got \(delta)")
        }
    }

    private static func probability(canaries m: Int, guesses r: Int, correct v: Int, epsilon: Double, delta: Double)
        -> Double
    {
        // log q and log(1 − q) for q = e^ε/(1 + e^ε), stable for large ε.
        let logQ = -log1p(exp(-epsilon))
        let logNotQ = -log1p(exp(epsilon))
        let logChoose = { (k: Int) in lgamma(Double(r + 1)) - lgamma(Double(k + 1)) - lgamma(Double(r - k + 1)) }
        let mass = (0...r).map { k in exp(logChoose(k) + Double(k) * logQ + Double(r - k) * logNotQ) }
        // The tail from its small end up.
        let tail = mass[v...].reversed().reduce(0, +)
        guard delta > 0, v > 0 else { return min(tail, 1) }
        var (largest, running) = (0.0, 0.0)
        for i in 1...v {
            running += mass[v - i]
            largest = max(largest, running / Double(i))
        }
        return min(tail + 2 * Double(m) * delta * largest, 1)
    }
}
