public import CloisterErrors

/// Why a federation refused a configuration, a submission or a round: a stable `code` for programs (the HTTP host
/// maps each to a 4xx status) and a `reason` naming the client, the round or the parameter for people.
public struct FederationError: CodedError {
    public typealias Code = ErrorCode<FederationError>

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension ErrorCode where Domain == FederationError {
    /// A strategy, privacy or federation parameter outside its domain.
    public static let invalidParameter = Self("invalid-parameter")
    /// A submission from a client the federation does not know, or whose signature does not verify.
    public static let unknownClient = Self("unknown-client")
    /// A submission for a round other than the open one.
    public static let staleRound = Self("stale-round")
    /// A submission from a registered client the enclave did not sample into this round's cohort.
    public static let notInCohort = Self("not-in-cohort")
    /// A second submission from the same client in one round.
    public static let duplicateSubmission = Self("duplicate-submission")
    /// An update whose parameter count differs from the global model's.
    public static let wrongShape = Self("wrong-shape")
    /// An update with a non-positive example count.
    public static let invalidUpdate = Self("invalid-update")
    /// An update holding NaN or an infinity.
    public static let nonFinite = Self("non-finite-update")
    /// A round closed with too few updates to aggregate, or an action on a finished federation.
    public static let roundNotReady = Self("round-not-ready")
    /// The aggregator's quote failed appraisal: nothing is sent to it.
    public static let attestationRefused = Self("attestation-refused")
    /// A signed statement (the federation, a global model) that does not verify or is not what was asked for.
    public static let statementRejected = Self("statement-rejected")
    /// A message that does not have the protocol's shape.
    public static let protocolViolation = Self("protocol-violation")
    /// Another round would spend more client-level privacy than the budget allows.
    public static let budgetExhausted = Self("budget-exhausted")
    /// A sealed update larger than the aggregator accepts (the host answers 413).
    public static let updateTooLarge = Self("update-too-large")

    /// Every code above, to recognise one that crossed a channel as text.
    public static let all: [Self] = [
        .invalidParameter, .unknownClient, .staleRound, .notInCohort, .duplicateSubmission, .wrongShape,
        .invalidUpdate, .nonFinite, .roundNotReady, .attestationRefused, .statementRejected, .protocolViolation,
        .budgetExhausted, .updateTooLarge,
    ]
}
