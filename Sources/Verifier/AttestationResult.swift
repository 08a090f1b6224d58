public import Attestation

/// The verdict of an appraisal (EAR `ear.status`, IETF RATS AR4SI tiers).
public enum AppraisalStatus: String, Sendable, Hashable, Codable, Comparable {
    /// Every check passed.
    case affirming
    /// Every check passed, but something is flagged: the policy accepted an out-of-date TCB level, or Nitro evidence
    /// chains to a root that is not AWS's.
    case warning
    /// A check failed.
    case contraindicated

    public static func < (lhs: AppraisalStatus, rhs: AppraisalStatus) -> Bool {
        lhs.rank < rhs.rank
    }

    private var rank: Int {
        switch self {
        case .affirming: 0
        case .warning: 1
        case .contraindicated: 2
        }
    }
}

/// The AR4SI trustworthiness vector of a result: one claim per aspect, each an AR4SI tier value (0 no claim,
/// 2 affirming, 32 warning, 96 contraindicated, 99 cryptographic validation failed).
public struct TrustworthinessVector: Sendable, Hashable, Codable {
    public var instanceIdentity: Int = 0
    public var configuration: Int = 0
    public var executables: Int = 0
    public var hardware: Int = 0
    public var runtimeOpaque: Int = 0

    public init(
        instanceIdentity: Int = 0, configuration: Int = 0, executables: Int = 0, hardware: Int = 0,
        runtimeOpaque: Int = 0
    ) {
        self.instanceIdentity = instanceIdentity
        self.configuration = configuration
        self.executables = executables
        self.hardware = hardware
        self.runtimeOpaque = runtimeOpaque
    }

    enum CodingKeys: String, CodingKey {
        case instanceIdentity = "instance-identity", configuration, executables, hardware
        case runtimeOpaque = "runtime-opaque"
    }

    static let affirming = 2
    static let warning = 32
    static let contraindicated = 96
    static let cryptographicFailure = 99

    /// Raises the claim for `aspect` to `tier`, if it is lower.
    mutating func raise(_ aspect: TrustworthinessAspect, to tier: Int) {
        switch aspect {
        case .instanceIdentity: instanceIdentity = max(instanceIdentity, tier)
        case .configuration: configuration = max(configuration, tier)
        case .executables: executables = max(executables, tier)
        case .hardware: hardware = max(hardware, tier)
        case .runtimeOpaque: runtimeOpaque = max(runtimeOpaque, tier)
        }
    }

    /// The status the vector implies: its worst tier.
    var status: AppraisalStatus {
        let worst = [instanceIdentity, configuration, executables, hardware, runtimeOpaque].max() ?? 0
        return worst >= Self.contraindicated ? .contraindicated : worst >= Self.warning ? .warning : .affirming
    }
}

/// What an appraisal concluded: the status, every check by name, the claims, and the signed EAR.
public struct AttestationResult: Sendable, Encodable {
    public let status: AppraisalStatus
    public let policyID: String
    public let format: EvidenceFormat?
    /// Every check, evidence and policy, in the order run.
    public let checks: [EvidenceCheck]
    public let trustworthiness: TrustworthinessVector
    public let claims: VerifiedClaims?
    public let warnings: [String]
    /// Why the evidence could not be read at all (its `decode` check failed), with a stable code:
    /// `malformed-evidence`, `unknown-evidence-format` or `unsupported-evidence-format`.
    public let refusal: AttestationError?
    /// The EAR (JWT, ES256) carrying the status, vector, claims and policy id; nil from `Appraiser.evaluate`.
    public let token: String?

    /// The checks that failed.
    public var failures: [EvidenceCheck] { checks.filter { !$0.passed } }

    /// This result carrying `token`.
    func signed(_ token: String) -> AttestationResult {
        AttestationResult(
            status: status, policyID: policyID, format: format, checks: checks, trustworthiness: trustworthiness,
            claims: claims, warnings: warnings, refusal: refusal, token: token)
    }

    enum CodingKeys: String, CodingKey {
        case status, checks, claims, warnings, format
        case policyID = "policy_id", trustworthiness = "trustworthiness_vector", token = "ear"
    }
}
