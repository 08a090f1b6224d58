public import Attestation
import CloisterCrypto
import EnclaveRuntime
public import FoundationEssentials

/// Appraises evidence: the evidence stage (`EvidenceVerifier`), then every check of a `Policy`, then a signed
/// attestation result. Every check runs and is named in the result, not only the first that fails.
///
/// Policy checks: `reference-values` (the policy names at least one measurement or signer), `measurement`,
/// `pcr-N` (one per index the policy names), `signer`, `product-svn`, `debug`, `simulated`, `development-key`, `age`,
/// `nonce`, `tcb-status-accepted`, `isolation`. Each is always listed: one the policy turns off, or one that does not
/// apply to the evidence's format, passes with a detail that starts "not required". Each maps to one aspect of the
/// AR4SI trustworthiness vector; the worst aspect decides the status, and an evidence-stage warning (a Nitro root that
/// is not AWS's) caps it at `warning`.
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
        var checks = outcome.checks
        if let claims = outcome.claims {
            checks += policyChecks(claims, policy: policy, expectedNonce: expectedNonce, at: time)
        }
        var vector = TrustworthinessVector()
        var warnings = outcome.warnings
        for check in checks {
            let aspect = Self.aspect(of: check.name)
            let tier =
                check.passed
                ? TrustworthinessVector.affirming
                : (aspect == .instanceIdentity && Self.cryptographic.contains(check.name)
                    ? TrustworthinessVector.cryptographicFailure : TrustworthinessVector.contraindicated)
            vector.raise(aspect, to: tier)
        }
        if !outcome.warnings.isEmpty {
            vector.raise(.hardware, to: TrustworthinessVector.warning)
        }
        if let status = outcome.claims?.tcbStatus, status == .outOfDate,
            checks.contains(where: { $0.name == "tcb-status-accepted" && $0.passed })
        {
            vector.raise(.hardware, to: TrustworthinessVector.warning)
            warnings.append("the platform's TCB level is out of date; the policy accepts it")
        }
        return AttestationResult(
            status: vector.status, policyID: policy.id, format: outcome.format, checks: checks,
            trustworthiness: vector, claims: outcome.claims, warnings: warnings, token: nil)
    }

    /// Evidence checks whose failure means the cryptography did not hold.
    private static let cryptographic: Set<String> = ["decode", "signature", "certificate-chain", "trust-anchor"]

    private static func aspect(of check: String) -> TrustworthinessVector.Aspect {
        switch check {
        case "measurement", "signer", "product-svn", "development-key", "reference-values": .executables
        case _ where check.hasPrefix("pcr-"): .executables
        case "debug": .configuration
        case "simulated", "cloister-claims", "tcb-status", "tcb-status-accepted", "platform-binding": .hardware
        case "isolation": .runtimeOpaque
        default: .instanceIdentity  // decode, format, signature, chain, anchor, digest, age, nonce
        }
    }

    private func policyChecks(
        _ claims: VerifiedClaims, policy: Policy, expectedNonce: [UInt8]?, at time: Date
    ) -> [EvidenceCheck] {
        var checks: [EvidenceCheck] = []
        // Only the detail that applies is formatted.
        func check(_ name: String, _ passed: Bool, _ pass: @autoclosure () -> String, _ fail: @autoclosure () -> String)
        {
            checks.append(EvidenceCheck(name, passed: passed, passed ? pass() : fail()))
        }
        // A check the policy turns off, or one that does not apply to the format, is listed as passing.
        func notRequired(_ name: String, _ why: String) {
            checks.append(EvidenceCheck(name, passed: true, "not required: \(why)"))
        }
        check(
            "reference-values", !policy.measurements.isEmpty || !policy.signers.isEmpty,
            "policy \(policy.id) names reference measurements or signers",
            "policy \(policy.id) names no reference measurement or signer: nothing would be trusted")
        if policy.measurements.isEmpty {
            notRequired("measurement", "the policy names no measurement")
        } else {
            check(
                "measurement", policy.measurements.contains(claims.measurement),
                "measurement \(claims.measurement) is a reference value",
                "measurement \(claims.measurement) is not among the policy's \(policy.measurements.count) reference values"
            )
        }
        for (index, values) in policy.pcrs.sorted(by: { $0.key < $1.key }) {
            let value = claims.pcrs[String(Int(index) ?? -1)]
            check(
                "pcr-\(index)", value.map(values.contains) ?? false, "PCR\(index) is a reference value",
                "PCR\(index) \(value ?? "(absent)") is not a reference value")
        }
        if policy.signers.isEmpty {
            notRequired("signer", "the policy names no signer")
        } else {
            check(
                "signer", claims.signer.map(policy.signers.contains) ?? false, "signer is a reference value",
                "signer \(claims.signer ?? "(absent)") is not among the policy's signers")
        }
        if policy.products.isEmpty {
            notRequired("product-svn", "the policy names no product")
        } else {
            let product = policy.products.first { $0.productID == claims.productID }
            let passed = product.map { product in (claims.svn ?? 0) >= product.minimumSVN } ?? false
            check(
                "product-svn", passed,
                "product \(claims.productID ?? 0) at SVN \(claims.svn ?? 0) is accepted",
                product == nil
                    ? "product id \(claims.productID.map(String.init) ?? "(absent)") is not accepted"
                    : "SVN \(claims.svn ?? 0) is below the minimum \(product?.minimumSVN ?? 0) for product \(claims.productID ?? 0)"
            )
        }
        check(
            "debug", !claims.debug || policy.allowDebug,
            claims.debug ? "debug evidence, allowed by policy" : "not a debug enclave",
            "the enclave runs in debug mode; the policy forbids debug")
        check(
            "simulated", !claims.simulated || policy.allowSimulated,
            claims.simulated ? "simulated evidence (a Cloister platform root), allowed by policy" : "hardware evidence",
            "the evidence is simulated (it chains to a Cloister platform root, not to a hardware vendor's); the policy "
                + "does not allow simulation")
        if claims.format == .cloister {
            let development = claims.signer == SignerIdentity.development.hex
            check(
                "development-key", !development || policy.allowDevelopmentKeys,
                development ? "signed with the development key, allowed by policy" : "not the development key",
                "the manifest is signed with the public development key (Keys/dev-signer.pem)")
        } else {
            notRequired("development-key", "\(claims.format.rawValue) evidence has no manifest signer")
        }
        if let maximumAge = policy.maximumAgeSeconds {
            let age = time.timeIntervalSince1970 - Double(claims.timestamp) / 1000
            check(
                "age", age <= Double(maximumAge) && age >= -Self.allowedClockSkew,
                "made \(Int(age.rounded())) s ago, within \(maximumAge) s",
                age < -Self.allowedClockSkew
                    ? "made \(Int(-age)) s in the future" : "made \(Int(age)) s ago, older than \(maximumAge) s")
        } else {
            notRequired("age", "the policy sets max_age_seconds = \"\(Policy.unlimitedAge)\"")
        }
        if policy.requireNonce || expectedNonce != nil {
            let matches = expectedNonce.map { hexEncoded($0) == claims.nonce } ?? false
            check(
                "nonce", matches, "carries the issued nonce",
                expectedNonce == nil
                    ? "the policy requires a nonce and none was issued" : "the nonce differs or is absent")
        } else {
            notRequired("nonce", "the policy does not require a nonce and none was issued")
        }
        if claims.format == .cloister {
            let status = claims.tcbStatus
            check(
                "tcb-status-accepted", status.map(policy.acceptableTCBStatuses.contains) ?? false,
                "TCB status \(status?.rawValue ?? "") is accepted",
                "TCB status \(status?.rawValue ?? "unknown") is not among \(policy.acceptableTCBStatuses.map(\.rawValue))"
            )
        } else {
            notRequired("tcb-status-accepted", "\(claims.format.rawValue) evidence states no TCB status")
        }
        if policy.requiredIsolation.isEmpty {
            notRequired("isolation", "the policy requires no isolation mechanism")
        } else {
            let missing = policy.requiredIsolation.filter { !(claims.isolation ?? []).contains($0) }
            check(
                "isolation", missing.isEmpty, "every required isolation mechanism was applied",
                "isolation not applied: \(missing.joined(separator: ", "))")
        }
        return checks
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
