import Attestation
import FoundationEssentials

/// What the policy stage checks: the verified claims, the nonce the relying party issued, and the appraisal's time.
struct AppraisalSubject: Sendable {
    let claims: VerifiedClaims
    let expectedNonce: [UInt8]?
    let time: Date

    init(claims: VerifiedClaims, expectedNonce: [UInt8]?, time: Date) {
        self.claims = claims
        self.expectedNonce = expectedNonce
        self.time = time
    }
}

/// Checks of the policy stage, in the shape of swift-certificates' `VerifierPolicy`: each check is its own small
/// type, and checks compose with `@PolicyCheckBuilder`. Unlike a certificate policy, which stops at the first
/// failure, every check runs and reports, so a result names every failure.
protocol PolicyCheck: Sendable {
    /// Evaluates the check against `subject`, appending one outcome per named check it makes.
    func evaluate(_ subject: AppraisalSubject, into findings: inout PolicyFindings)
}

/// What the policy stage found: every check's outcome, and what it accepted only with a warning.
struct PolicyFindings: Sendable {
    var checks: [EvidenceCheck]
    /// Each warning with the check that raised it (whose aspect it caps at `warning`).
    var warnings: [(check: CheckName, text: String)] = []
}

/// How one named check came out.
enum PolicyCheckResult: Sendable {
    /// The claims meet the policy; the detail says what was confirmed.
    case meetsPolicy(String)
    /// The claims meet the policy only because it accepts something worth a warning (a TCB status other than up to
    /// date, an advisory the policy tolerates): the check passes, and the appraisal is at best a warning.
    case meetsPolicyWithWarning(String)
    /// The claims fail the policy; the detail says why.
    case failsToMeetPolicy(String)
    /// The policy turns the check off, or it does not apply to the evidence's format: listed as passing, with a
    /// detail that starts "not required".
    case notRequired(String)
}

/// A policy check with one name, and so one outcome.
protocol NamedPolicyCheck: PolicyCheck {
    /// The check's name and the aspect it decides.
    var name: CheckName { get }
    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult
}

extension NamedPolicyCheck {
    func evaluate(_ subject: AppraisalSubject, into findings: inout PolicyFindings) {
        switch evaluate(subject) {
        case .meetsPolicy(let detail): findings.checks.append(EvidenceCheck(name, passed: true, detail))
        case .meetsPolicyWithWarning(let detail):
            findings.checks.append(EvidenceCheck(name, passed: true, detail))
            findings.warnings.append((name, detail))
        case .failsToMeetPolicy(let detail): findings.checks.append(EvidenceCheck(name, passed: false, detail))
        case .notRequired(let why): findings.checks.append(EvidenceCheck(name, passed: true, "not required: \(why)"))
        }
    }
}

extension PolicyCheckResult {
    /// Meets the policy when `passed`, else fails it; only the detail that applies is formatted.
    static func meetsPolicy(
        if passed: Bool, _ meets: @autoclosure () -> String, else fails: @autoclosure () -> String
    ) -> PolicyCheckResult {
        passed ? .meetsPolicy(meets()) : .failsToMeetPolicy(fails())
    }
}

/// Composes policy checks, in the order written; a `for` loop contributes one check per element.
@resultBuilder
enum PolicyCheckBuilder {
    static func buildPartialBlock<Check: PolicyCheck>(first: Check) -> Check {
        first
    }

    static func buildPartialBlock<Accumulated: PolicyCheck, Next: PolicyCheck>(
        accumulated: Accumulated, next: Next
    ) -> PolicyChecks<Accumulated, Next> {
        PolicyChecks(first: accumulated, second: next)
    }

    static func buildArray<Check: PolicyCheck>(_ checks: [Check]) -> PolicyCheckList<Check> {
        PolicyCheckList(checks: checks)
    }
}

/// Two checks, run in order.
struct PolicyChecks<First: PolicyCheck, Second: PolicyCheck>: PolicyCheck {
    let first: First
    let second: Second

    func evaluate(_ subject: AppraisalSubject, into findings: inout PolicyFindings) {
        first.evaluate(subject, into: &findings)
        second.evaluate(subject, into: &findings)
    }
}

/// Checks of one type, run in order.
struct PolicyCheckList<Check: PolicyCheck>: PolicyCheck {
    let checks: [Check]

    func evaluate(_ subject: AppraisalSubject, into findings: inout PolicyFindings) {
        for check in checks { check.evaluate(subject, into: &findings) }
    }
}
