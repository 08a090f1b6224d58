import CloisterErrors

/// One named check of an appraisal and its outcome.
public struct EvidenceCheck: Sendable, Hashable, Encodable {
    /// Which check this is, with the aspect it speaks for.
    public let kind: CheckName
    public let passed: Bool
    /// What was confirmed, or why it failed.
    public let detail: String

    /// The check's name on the wire.
    public var name: String { kind.rawValue }

    public init(_ kind: CheckName, passed: Bool, _ detail: String) {
        self.kind = kind
        self.passed = passed
        self.detail = detail
    }

    /// Runs `body` and turns its outcome into a check: passed with `success`, or failed with the error's reason.
    public static func run(_ kind: CheckName, _ success: String, _ body: () throws -> Void) -> EvidenceCheck {
        do {
            try body()
            return EvidenceCheck(kind, passed: true, success)
        } catch let error as any CodedError {
            return EvidenceCheck(kind, passed: false, error.reason)
        } catch {
            return EvidenceCheck(kind, passed: false, "\(error)")
        }
    }

    enum CodingKeys: String, CodingKey {
        case detail, name, passed
    }

    /// `{"detail", "name", "passed"}`, written in key order (so an encoder that sorts keys moves nothing).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(detail, forKey: .detail)
        try container.encode(name, forKey: .name)
        try container.encode(passed, forKey: .passed)
    }
}
