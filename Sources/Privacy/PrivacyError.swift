/// Why a privacy computation was refused: a parameter outside its domain, or a step past the budget.
public struct PrivacyError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidParameter = "invalid-parameter"
        case budgetExceeded = "budget-exceeded"
        case unreachableTarget = "unreachable-target"
    }

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason }

    /// Refuses a δ outside (0, 1).
    static func checkDelta(_ delta: Double) throws(PrivacyError) {
        guard delta > 0, delta < 1 else {
            throw PrivacyError(.invalidParameter, "delta must be in (0, 1), got \(delta)")
        }
    }
}
