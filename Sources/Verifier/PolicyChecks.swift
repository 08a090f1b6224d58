public import Attestation
import CloisterCrypto
import FoundationEssentials

extension CheckName {
    /// The policy names at least one reference measurement or signer.
    public static let referenceValues = CheckName("reference-values", aspect: .executables)
    public static let measurement = CheckName("measurement", aspect: .executables)
    /// The measurement register `index` holds one of the policy's values for it.
    public static func pcr(_ index: String) -> CheckName { CheckName("pcr-\(index)", aspect: .executables) }
    public static let signer = CheckName("signer", aspect: .executables)
    public static let productSVN = CheckName("product-svn", aspect: .executables)
    public static let developmentKey = CheckName("development-key", aspect: .executables)
    public static let debug = CheckName("debug", aspect: .configuration)
    /// A trust domain's attributes are safe for production (TDX).
    public static let tdAttributes = CheckName("td-attributes", aspect: .configuration)
    public static let simulated = CheckName("simulated", aspect: .hardware)
    public static let age = CheckName("age", aspect: .instanceIdentity)
    public static let nonce = CheckName("nonce", aspect: .instanceIdentity)
    public static let tcbStatusAccepted = CheckName("tcb-status-accepted", aspect: .hardware)
    /// The vendor's advisories for the platform are ones the policy tolerates.
    public static let advisories = CheckName("advisories", aspect: .hardware)
    /// The format's claim `name` holds one of the policy's values for it.
    public static func claim(_ name: String) -> CheckName { CheckName("claim-\(name)", aspect: .executables) }
    public static let isolation = CheckName("isolation", aspect: .runtimeOpaque)
}

extension Policy {
    /// Every check of the policy stage, in the order results list them. Each is always there: one the policy turns
    /// off, or one that does not apply to the evidence's format, passes as "not required".
    @PolicyCheckBuilder var checks: some PolicyCheck {
        ReferenceValuesCheck(policyID: id, measurements: measurements, signers: signers, claims: claims)
        MeasurementCheck(measurements: measurements)
        for (index, values) in pcrs.sorted(by: { $0.key < $1.key }) {
            PCRCheck(index: index, values: values)
        }
        for (name, values) in claims.sorted(by: { $0.key < $1.key }) {
            ClaimCheck(claim: name, values: values)
        }
        SignerCheck(signers: signers)
        ProductSVNCheck(products: products)
        DebugCheck(allowDebug: allowDebug)
        TDAttributesCheck(allowUnsafe: allowUnsafeTDAttributes, allowDebug: allowDebug)
        SimulatedCheck(allowSimulated: allowSimulated)
        DevelopmentKeyCheck(allowDevelopmentKeys: allowDevelopmentKeys)
        AgeCheck(maximumAgeSeconds: maximumAgeSeconds)
        NonceCheck(requireNonce: requireNonce, binding: reportDataBinding)
        TCBStatusAcceptedCheck(acceptable: acceptableTCBStatuses)
        AdvisoriesCheck(allowed: allowedAdvisoryIDs, others: otherAdvisories)
        snpChecks
        IsolationCheck(required: requiredIsolation)
    }
}

/// `reference-values`: the policy names a measurement, a signer or a format's measured claim; one naming none would
/// trust nothing.
struct ReferenceValuesCheck: NamedPolicyCheck {
    let policyID: String
    let measurements: [String]
    let signers: [String]
    let claims: [String: [String]]
    var name: CheckName { .referenceValues }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        .meetsPolicy(
            if: !measurements.isEmpty || !signers.isEmpty || !claims.isEmpty,
            "policy \(policyID) names reference measurements, signers or claims",
            else: "policy \(policyID) names no reference measurement, signer or claim: nothing would be trusted")
    }
}

/// `measurement`: the enclave measurement is one of the policy's.
struct MeasurementCheck: NamedPolicyCheck {
    let measurements: [String]
    var name: CheckName { .measurement }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard !measurements.isEmpty else { return .notRequired("the policy names no measurement") }
        let measurement = subject.claims.measurement
        return .meetsPolicy(
            if: measurements.contains(measurement), "measurement \(measurement) is a reference value",
            else: "measurement \(measurement) is not among the policy's \(measurements.count) reference values")
    }
}

/// `pcr-N`: measurement register N holds one of the policy's values for it.
struct PCRCheck: NamedPolicyCheck {
    /// The register's index, decimal.
    let index: String
    let values: [String]
    var name: CheckName { .pcr(index) }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        let value = subject.claims.pcrs[String(Int(index) ?? -1)]
        return .meetsPolicy(
            if: value.map(values.contains) ?? false, "PCR\(index) is a reference value",
            else: "PCR\(index) \(value ?? "(absent)") is not a reference value")
    }
}

/// `claim-NAME`: the format's claim NAME (`EvidenceFormat.referenceClaims`) holds one of the policy's values for it;
/// evidence of a format without that claim fails.
struct ClaimCheck: NamedPolicyCheck {
    let claim: String
    let values: [String]
    var name: CheckName { .claim(claim) }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard let value = subject.claims.details.referenceValues[claim] else {
            return .failsToMeetPolicy("\(subject.claims.format.rawValue) evidence states no \(claim)")
        }
        return .meetsPolicy(
            if: values.contains(value), "\(claim) is a reference value",
            else: "\(claim) \(value) is not among the policy's \(values.count) reference values")
    }
}

/// `signer`: the enclave's signer is one of the policy's.
struct SignerCheck: NamedPolicyCheck {
    let signers: [String]
    var name: CheckName { .signer }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard !signers.isEmpty else { return .notRequired("the policy names no signer") }
        let signer = subject.claims.signer
        return .meetsPolicy(
            if: signer.map(signers.contains) ?? false, "signer is a reference value",
            else: "signer \(signer ?? "(absent)") is not among the policy's signers")
    }
}

/// `product-svn`: the enclave's product is one the policy accepts, at or above its minimum SVN.
struct ProductSVNCheck: NamedPolicyCheck {
    let products: [Policy.Product]
    var name: CheckName { .productSVN }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard !products.isEmpty else { return .notRequired("the policy names no product") }
        let productID = subject.claims.productID
        let svn = subject.claims.svn ?? 0
        guard let product = products.first(where: { $0.productID == productID }) else {
            return .failsToMeetPolicy("product id \(productID.map(String.init) ?? "(absent)") is not accepted")
        }
        return .meetsPolicy(
            if: svn >= product.minimumSVN, "product \(product.productID) at SVN \(svn) is accepted",
            else: "SVN \(svn) is below the minimum \(product.minimumSVN) for product \(product.productID)")
    }
}

/// `debug`: a debug enclave only when the policy allows debug.
struct DebugCheck: NamedPolicyCheck {
    let allowDebug: Bool
    var name: CheckName { .debug }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        let debug = subject.claims.debug
        return .meetsPolicy(
            if: !debug || allowDebug, debug ? "debug evidence, allowed by policy" : "not a debug enclave",
            else: "the enclave runs in debug mode; the policy forbids debug")
    }
}

/// `td-attributes`: a trust domain's attributes (TDX Module ABI specification 348551-008US, table 3.23) are safe:
/// no reserved bit set, no profiling (TUD bits 4 to 6, unless debug is allowed), not migratable, no SERVTD_EXT,
/// SEPT_VE_DISABLE set, and for TD 1.5 no service TD bound (`mr_service_td` zero) — the rules dcap-qvl applies.
/// Debug itself is the `debug` check's; `allow_unsafe_td_attributes` turns this one off.
struct TDAttributesCheck: NamedPolicyCheck {
    let allowUnsafe: Bool
    let allowDebug: Bool
    var name: CheckName { .tdAttributes }

    /// Bits that must be zero: 1–3, 7–15, 23–26, 32–61.
    static let reservedBits: UInt64 = [1...3, 7...15, 23...26, 32...61].reduce(0) { mask, range in
        range.reduce(mask) { $0 | 1 << UInt64($1) }
    }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        let values = subject.claims.details.referenceValues
        guard let hex = values["td_attributes"], let bytes = hexDecoded(hex), bytes.count == 8 else {
            return .notRequired("\(subject.claims.format.rawValue) evidence has no TD attributes")
        }
        guard !allowUnsafe else { return .notRequired("the policy sets allow_unsafe_td_attributes") }
        let attributes = bytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        var problems: [String] = []
        if attributes & Self.reservedBits != 0 { problems.append("reserved bits set") }
        if attributes & 0x70 != 0 && !allowDebug { problems.append("TD profiling enabled (TUD bits 4 to 6)") }
        if attributes & (1 << 29) != 0 { problems.append("migratable (bit 29)") }
        if attributes & (1 << 17) != 0 { problems.append("SERVTD_EXT set (bit 17)") }
        if attributes & (1 << 28) == 0 { problems.append("SEPT_VE_DISABLE clear (bit 28)") }
        if let serviceTD = values["mr_service_td"], serviceTD.contains(where: { $0 != "0" }) {
            problems.append("a service TD is bound (mr_service_td is not zero)")
        }
        return .meetsPolicy(
            if: problems.isEmpty, "TD attributes \(hex) are safe",
            else: "TD attributes \(hex): " + problems.joined(separator: ", "))
    }
}

/// `simulated`: simulated evidence (known by its trust anchor) only when the policy allows simulation.
struct SimulatedCheck: NamedPolicyCheck {
    let allowSimulated: Bool
    var name: CheckName { .simulated }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        let simulated = subject.claims.simulated
        return .meetsPolicy(
            if: !simulated || allowSimulated,
            simulated ? "simulated evidence (a Cloister platform root), allowed by policy" : "hardware evidence",
            else: "the evidence is simulated (it chains to a Cloister platform root, not to a hardware vendor's); "
                + "the policy does not allow simulation")
    }
}

/// `development-key`: a manifest signed with the development key only when the policy allows it, known in a Cloister
/// quote's PCR8 and in simulated evidence of every kind (`VerifiedClaims.namesDevelopmentSigner`).
struct DevelopmentKeyCheck: NamedPolicyCheck {
    let allowDevelopmentKeys: Bool
    var name: CheckName { .developmentKey }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        let claims = subject.claims
        guard let development = claims.namesDevelopmentSigner else {
            return .notRequired("\(claims.format.rawValue) hardware evidence has no manifest signer")
        }
        return .meetsPolicy(
            if: !development || allowDevelopmentKeys,
            development ? "signed with the development key, allowed by policy" : "not the development key",
            else: "the manifest is signed with the development key (Keys/dev-signer.pem)")
    }
}

/// `age`: the evidence was made at most the policy's maximum age before the appraisal, and not further in its
/// future than the clock skew allowed.
struct AgeCheck: NamedPolicyCheck {
    /// Nil for no limit.
    let maximumAgeSeconds: Int?
    var name: CheckName { .age }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard let maximumAge = maximumAgeSeconds else {
            return .notRequired("the policy sets max_age_seconds = \"\(Policy.unlimitedAge)\"")
        }
        guard let timestamp = subject.claims.timestamp else {
            return .notRequired(
                "\(subject.claims.format.rawValue) evidence states no time it was made; its freshness is the nonce "
                    + "its report data binds (require_nonce)")
        }
        let age = subject.time.timeIntervalSince1970 - Double(timestamp) / 1000
        return .meetsPolicy(
            if: age <= Double(maximumAge) && age >= -Appraiser.allowedClockSkew,
            "made \(Int(age.rounded())) s ago, within \(maximumAge) s",
            else: age < -Appraiser.allowedClockSkew
                ? "made \(Int(-age)) s in the future" : "made \(Int(age)) s ago, older than \(maximumAge) s")
    }
}

/// `nonce`: the evidence carries the nonce the relying party issued, when one was issued or the policy requires one:
/// as its nonce claim, or (hardware reports) bound into its report data as the policy's `report_data_binding` says.
struct NonceCheck: NamedPolicyCheck {
    let requireNonce: Bool
    let binding: ReportDataBinding
    var name: CheckName { .nonce }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard requireNonce || subject.expectedNonce != nil else {
            return .notRequired("the policy does not require a nonce and none was issued")
        }
        guard let expected = subject.expectedNonce else {
            return .failsToMeetPolicy("the policy requires a nonce and none was issued")
        }
        if subject.claims.nonce == nil, let reportData = subject.claims.reportData.flatMap(hexDecoded) {
            return .meetsPolicy(
                if: binding.binds(nonce: expected, in: reportData),
                "the report data binds the issued nonce (\(binding.rawValue))",
                else: "the report data does not bind the issued nonce as report_data_binding = "
                    + "\"\(binding.rawValue)\" says")
        }
        return .meetsPolicy(
            if: hexEncoded(expected) == subject.claims.nonce, "carries the issued nonce",
            else: "the nonce differs or is absent")
    }
}

/// `tcb-status-accepted`: the platform's TCB status, for formats that state one, is among the policy's.
struct TCBStatusAcceptedCheck: NamedPolicyCheck {
    let acceptable: [TCBStatus]
    var name: CheckName { .tcbStatusAccepted }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        let claims = subject.claims
        guard claims.format.statesTCBStatus else {
            return .notRequired("\(claims.format.rawValue) evidence states no TCB status")
        }
        guard let status = claims.tcbStatus, acceptable.contains(status) else {
            return .failsToMeetPolicy(
                "TCB status \(claims.tcbStatus?.rawValue ?? "unknown") is not among \(acceptable.map(\.rawValue))")
        }
        guard status == .upToDate else {
            return .meetsPolicyWithWarning("the platform's TCB status is \(status.rawValue); the policy accepts it")
        }
        return .meetsPolicy("TCB status \(status.rawValue) is accepted")
    }
}

/// `advisories`: the vendor's advisories for the platform (Intel's, with the TCB status) are among the policy's
/// `allowed_advisory_ids`; any other fails, or only warns when `other_advisories = "warning"`.
struct AdvisoriesCheck: NamedPolicyCheck {
    let allowed: [String]
    let others: Policy.AdvisoryHandling
    var name: CheckName { .advisories }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        let claims = subject.claims
        guard claims.format.statesTCBStatus else {
            return .notRequired("\(claims.format.rawValue) evidence states no advisories")
        }
        let unlisted = claims.advisoryIDs.filter { !allowed.contains($0) }
        guard !unlisted.isEmpty else {
            return .meetsPolicy(
                claims.advisoryIDs.isEmpty
                    ? "no advisory applies" : "every advisory is allowed: \(claims.advisoryIDs.joined(separator: ", "))"
            )
        }
        let detail = "advisories the policy does not allow: \(unlisted.joined(separator: ", "))"
        return others == .warning ? .meetsPolicyWithWarning(detail) : .failsToMeetPolicy(detail)
    }
}

/// `isolation`: the platform applied every isolation mechanism the policy requires (Cloister quotes state them).
struct IsolationCheck: NamedPolicyCheck {
    let required: [String]
    var name: CheckName { .isolation }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard !required.isEmpty else { return .notRequired("the policy requires no isolation mechanism") }
        let applied = subject.claims.details(as: CloisterQuoteClaims.self)?.isolation ?? []
        let missing = required.filter { !applied.contains($0) }
        return .meetsPolicy(
            if: missing.isEmpty, "every required isolation mechanism was applied",
            else: "isolation not applied: \(missing.joined(separator: ", "))")
    }
}
