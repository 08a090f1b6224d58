import CloisterCrypto

/// One named check of an appraisal and its outcome.
public struct EvidenceCheck: Sendable, Hashable, Encodable {
    public let name: String
    public let passed: Bool
    /// What was confirmed, or why it failed.
    public let detail: String

    public init(_ name: String, passed: Bool, _ detail: String) {
        self.name = name
        self.passed = passed
        self.detail = detail
    }

    /// Runs `body` and turns its outcome into a check: passed with `success`, or failed with the error's reason.
    public static func run(_ name: String, _ success: String, _ body: () throws -> Void) -> EvidenceCheck {
        do {
            try body()
            return EvidenceCheck(name, passed: true, success)
        } catch let error as any CodedError {
            return EvidenceCheck(name, passed: false, error.reason)
        } catch {
            return EvidenceCheck(name, passed: false, "\(error)")
        }
    }
}
