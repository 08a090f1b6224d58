import Attestation
public import FoundationEssentials
public import Verifier

/// A challenge-response session: the nonce the verifier issued, until when it may be used, and its result once the
/// evidence was appraised.
public struct ChallengeSession: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        /// Issued; waiting for evidence.
        case waiting
        /// The nonce was used and no result is stored yet: the appraisal is running, or it failed on an internal
        /// error (the nonce stays spent; ask for a new session).
        case processing
        /// Evidence was appraised; `result` holds the EAR.
        case complete
    }

    public let id: String
    public let nonce: [UInt8]
    public let expiresAt: Date
    public var state: State
    /// The EAR, once complete.
    public var result: String?
}

/// Whether a new session was stored, or why not.
public enum SessionAdmission: Sendable, Hashable {
    case created
    /// As many sessions as allowed are outstanding (waiting and unexpired); the first of them expires at
    /// `nextExpiry`, when there is room again.
    case full(nextExpiry: Date)
}

/// Why a session's nonce could not be consumed.
public enum SessionRefusal: Error, Sendable, Hashable {
    case unknown
    case expired
    /// The nonce was already used: a replay.
    case alreadyUsed
}

/// One appraisal, as the append-only audit log keeps it.
public struct AuditEntry: Sendable, Hashable, Codable {
    public let time: Date
    /// SHA-256 of the evidence bytes, hex.
    public let evidenceHash: String
    public let format: String
    public let status: String
    public let policyID: String

    public init(time: Date, evidenceHash: String, format: String, status: String, policyID: String) {
        self.time = time
        self.evidenceHash = evidenceHash
        self.format = format
        self.status = status
        self.policyID = policyID
    }

    enum CodingKeys: String, CodingKey {
        case time, format, status
        case evidenceHash = "evidence_sha256", policyID = "policy_id"
    }
}

/// A named set of reference values provisioned into the service: appraisals accept them in addition to those of
/// the policy applied.
public struct ReferenceValueSet: Sendable, Hashable, Codable {
    public var id: String
    public var measurements: [String]
    public var signers: [String]

    public init(id: String, measurements: [String], signers: [String]) {
        self.id = id
        self.measurements = measurements.map { $0.lowercased() }
        self.signers = signers.map { $0.lowercased() }
    }
}

/// Where the service keeps sessions, policies, reference values and the audit log. SQLite for one replica,
/// PostgreSQL for several: both apply the same schema and behave the same.
public protocol VerifierStore: Sendable {
    /// A short name for logs ("sqlite", "postgres").
    var kind: String { get }

    /// Stores a waiting session unless `limit` sessions are outstanding (waiting and unexpired at `time`); the count
    /// and the insert are one atomic step across every replica sharing the store, so the bound holds under races.
    func createSession(id: String, nonce: [UInt8], expiresAt: Date, outstandingLimit limit: Int, at time: Date)
        async throws -> SessionAdmission
    /// Deletes at most `limit` sessions, in any state, that expired before `cutoff` (oldest first); returns how many.
    func deleteSessions(expiredBefore cutoff: Date, limit: Int) async throws -> Int
    /// Marks the session's nonce used, atomically across every replica sharing the store, and returns the session;
    /// at most one caller ever succeeds for a session.
    func consumeSession(id: String, at time: Date) async throws -> Result<ChallengeSession, SessionRefusal>
    func completeSession(id: String, result: String) async throws
    func session(id: String) async throws -> ChallengeSession?

    func putPolicy(_ policy: Policy) async throws
    func policy(id: String) async throws -> Policy?
    func policies() async throws -> [Policy]
    /// Whether a policy was deleted.
    func deletePolicy(id: String) async throws -> Bool

    func putReferenceValues(_ set: ReferenceValueSet) async throws
    func referenceValues() async throws -> [ReferenceValueSet]
    func deleteReferenceValues(id: String) async throws -> Bool

    /// Appends to the audit log, which nothing updates or deletes.
    func appendAudit(_ entry: AuditEntry) async throws
    /// The newest `limit` audit entries, newest first.
    func auditEntries(limit: Int) async throws -> [AuditEntry]

    /// Checks the database answers.
    func ping() async throws
}

/// Why the store failed.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
