public import Attestation
public import FoundationEssentials

/// Appraises evidence: the evidence stage (`EvidenceVerifier`), then every check of a `Policy`, then a signed
/// attestation result. Every check runs and is named in the result, not only the first that fails.
///
/// Policy checks (`Policy.checks`, each its own type): `reference-values` (the policy names at least one measurement,
/// signer or claim), `measurement`, `pcr-N` (one per index the policy names), `claim-NAME` (one per format claim the
/// policy names), `signer`, `product-svn`, `debug`, `td-attributes`, `simulated`, `development-key`, `age`, `nonce`,
/// `tcb-status-accepted`, `advisories`, `isolation`. Each is always listed: one the
/// policy turns off, or one that does not apply to the evidence's format, passes with a detail that starts "not
/// required". Every check's name carries the aspect of the AR4SI trustworthiness vector it decides; the worst aspect
/// decides the status, and an evidence-stage warning (a Nitro root that is not AWS's) caps it at `warning`.
public struct Appraiser: Sendable {
    public let evidence: EvidenceVerifier
    public let signer: ResultSigner

    /// How far in the future a timestamp may lie (clock skew between platform and verifier).
    public static let allowedClockSkew: TimeInterval = 300

    public init(evidence: EvidenceVerifier, signer: ResultSigner) {
        self.evidence = evidence
        self.signer = signer
    }

    /// Appraises `bytes` under `policy` at `time`; `expectedNonce` is the nonce the relying party issued.
    public func appraise(
        _ bytes: [UInt8], format: EvidenceFormat? = nil, policy: Policy, expectedNonce: [UInt8]? = nil, at time: Date
    ) throws -> AttestationResult {
        try sign(
            evaluate(bytes, format: format, policy: policy, expectedNonce: expectedNonce, at: time), policy: policy,
            expectedNonce: expectedNonce, at: time)
    }

    /// `result` (from `evaluate` with the same policy, nonce and time) with its EAR signed.
    public func sign(
        _ result: AttestationResult, policy: Policy, expectedNonce: [UInt8]?, at time: Date
    ) throws -> AttestationResult {
        let token = try signer.token(
            EntityAttestationResult(
                issuedAt: Int(time.timeIntervalSince1970), verifierBuild: signer.build,
                nonce: expectedNonce.map { base64URL($0[...]) },
                submodule: result.format?.rawValue ?? "unknown",
                appraisal: .init(
                    status: result.status, trustworthiness: result.trustworthiness, policyID: policy.id,
                    claims: result.claims, failedChecks: result.failures.map(\.name))))
        return result.signed(token)
    }

    /// Every check and the verdict, without the signed EAR (`token` is nil): for callers that only need the
    /// decision, and for measuring the appraisal itself.
    public func evaluate(
        _ bytes: [UInt8], format: EvidenceFormat? = nil, policy: Policy, expectedNonce: [UInt8]? = nil, at time: Date
    ) -> AttestationResult {
        let outcome = evidence.verify(bytes, format: format, at: time)
        var findings = PolicyFindings(checks: outcome.checks)
        if let claims = outcome.claims {
            policy.checks.evaluate(
                AppraisalSubject(claims: claims, expectedNonce: expectedNonce, time: time), into: &findings)
        }
        let checks = findings.checks
        var vector = TrustworthinessVector()
        for check in checks {
            let tier =
                check.passed
                ? TrustworthinessVector.affirming
                : check.kind.isCryptographic
                    ? TrustworthinessVector.cryptographicFailure : TrustworthinessVector.contraindicated
            vector.raise(check.kind.aspect, to: tier)
        }
        if !outcome.warnings.isEmpty {
            vector.raise(.hardware, to: TrustworthinessVector.warning)
        }
        for warning in findings.warnings {
            vector.raise(warning.check.aspect, to: TrustworthinessVector.warning)
        }
        let warnings = outcome.warnings + findings.warnings.map(\.text)
        return AttestationResult(
            status: vector.status, policyID: policy.id, format: outcome.format, checks: checks,
            trustworthiness: vector, claims: outcome.claims, warnings: warnings, refusal: outcome.refusal, token: nil)
    }
}

/// The EAR claims set (draft-ietf-rats-ear): one submodule per appraised evidence.
struct EntityAttestationResult: Encodable {
    struct VerifierID: Encodable {
        let developer = "https://github.com/cloister"
        let build: String
    }

    struct Appraisal: Encodable {
        let status: AppraisalStatus
        let trustworthiness: TrustworthinessVector
        let policyID: String
        let claims: VerifiedClaims?
        let failedChecks: [String]

        enum CodingKeys: String, CodingKey {
            case status = "ear.status", trustworthiness = "ear.trustworthiness-vector"
            case policyID = "ear.appraisal-policy-id", claims = "ear.veraison.annotated-evidence"
            case failedChecks = "cloister.failed-checks"
        }
    }

    let profile = "tag:github.com,2023:veraison/ear"
    let issuedAt: Int
    let verifierID: VerifierID
    let nonce: String?
    let submods: [String: Appraisal]

    init(issuedAt: Int, verifierBuild: String, nonce: String?, submodule: String, appraisal: Appraisal) {
        self.issuedAt = issuedAt
        self.verifierID = VerifierID(build: verifierBuild)
        self.nonce = nonce
        self.submods = [submodule: appraisal]
    }

    enum CodingKeys: String, CodingKey {
        case profile = "eat_profile", issuedAt = "iat", verifierID = "ear.verifier-id", nonce = "eat_nonce", submods
    }
}
