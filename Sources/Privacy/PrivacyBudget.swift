/// An (ε, δ) budget over an RDP accountant: a step that would take the spent ε past the budget is refused and
/// leaves the accountant as it was.
public struct PrivacyBudget: Sendable, Hashable {
    public let epsilon: Double
    public let delta: Double
    public private(set) var accountant: RDPAccountant

    public init(epsilon: Double, delta: Double, accountant: RDPAccountant? = nil) throws(PrivacyError) {
        guard epsilon > 0, epsilon.isFinite else {
            throw PrivacyError(.invalidParameter, "epsilon budget must be positive and finite, got \(epsilon)")
        }
        try PrivacyError.checkDelta(delta)
        self.epsilon = epsilon
        self.delta = delta
        if let accountant {
            self.accountant = accountant
        } else {
            self.accountant = try RDPAccountant()
        }
    }

    /// The ε spent so far at the budget's δ.
    public var spent: Double {
        (try? accountant.epsilon(delta: delta).epsilon) ?? .infinity
    }

    /// Spends `steps` steps of `mechanism`, or throws `.budgetExceeded` and spends nothing.
    public mutating func spend(_ mechanism: SubsampledGaussian, steps: Int = 1) throws(PrivacyError) {
        let next = try accountant.composing(mechanism, steps: steps)
        let after = try next.epsilon(delta: delta).epsilon
        guard after <= epsilon else {
            throw PrivacyError(
                .budgetExceeded,
                "\(steps) more step(s) would spend epsilon \(after), past the budget of \(epsilon) at delta \(delta)")
        }
        accountant = next
    }
}
