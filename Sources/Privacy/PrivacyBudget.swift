/// An (ε, δ) budget over an accountant chosen when it is made (RDP unless another is given): a step that would take
/// the spent ε past the budget is refused and leaves the accountant as it was.
public struct PrivacyBudget<Spending: PrivacyAccountant>: Sendable {
    public let epsilon: Double
    public let delta: Double
    public private(set) var accountant: Spending

    /// A budget of (`epsilon`, `delta`) kept by `accountant`, which may already have spent some of it.
    public init(epsilon: Double, delta: Double, accountant: Spending) throws(PrivacyError) {
        guard epsilon > 0, epsilon.isFinite else {
            throw PrivacyError(.invalidParameter, "epsilon budget must be positive and finite, got \(epsilon)")
        }
        try PrivacyError.checkDelta(delta)
        self.epsilon = epsilon
        self.delta = delta
        self.accountant = accountant
    }

    /// The ε spent so far at the budget's δ.
    public var spent: Double {
        (try? accountant.epsilon(delta: delta)) ?? .infinity
    }

    /// Spends `steps` steps of `mechanism`, or throws `.budgetExceeded` and spends nothing.
    public mutating func spend(_ mechanism: SubsampledGaussian, steps: Int = 1) throws(PrivacyError) {
        let next = try accountant.composing(mechanism, steps: steps)
        let after = try next.epsilon(delta: delta)
        guard after <= epsilon else {
            throw PrivacyError(
                .budgetExceeded,
                "\(steps) more step(s) would spend epsilon \(after) (\(Spending.kind.rawValue)), past the budget of \(epsilon) at delta \(delta)"
            )
        }
        accountant = next
    }
}

extension PrivacyBudget: Equatable where Spending: Equatable {}
extension PrivacyBudget: Hashable where Spending: Hashable {}

extension PrivacyBudget where Spending == RDPAccountant {
    /// A budget of (`epsilon`, `delta`) kept by an RDP accountant with nothing spent.
    public init(epsilon: Double, delta: Double) throws(PrivacyError) {
        try self.init(epsilon: epsilon, delta: delta, accountant: RDPAccountant())
    }
}
