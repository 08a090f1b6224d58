public import Attestation

extension CheckName {
    /// The guest's security version is at least the policy's minimum (SEV-SNP).
    public static let guestSVN = CheckName("guest-svn", aspect: .executables)
    /// The report's TCB reaches the policy's minimum in every component, and is not above the platform's current TCB
    /// (SEV-SNP).
    public static let minimumTCB = CheckName("minimum-tcb", aspect: .hardware)
    /// The report was requested from the VM privilege level the policy requires (SEV-SNP).
    public static let vmpl = CheckName("vmpl", aspect: .runtimeOpaque)
    /// The guest policy allows no migration agent, unless the policy does (SEV-SNP).
    public static let migrationAgent = CheckName("migration-agent", aspect: .configuration)
}

/// A TCB_VERSION's components as an SEV-SNP policy names them: bootloader, TEE, SNP, microcode and (Turin) FMC.
public struct SEVSNPMinimumTCB: Sendable, Hashable, Encodable {
    public var bootloader: UInt8
    public var tee: UInt8
    public var snp: UInt8
    public var microcode: UInt8
    public var fmc: UInt8

    public init(bootloader: UInt8 = 0, tee: UInt8 = 0, snp: UInt8 = 0, microcode: UInt8 = 0, fmc: UInt8 = 0) {
        self.bootloader = bootloader
        self.tee = tee
        self.snp = snp
        self.microcode = microcode
        self.fmc = fmc
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case bootloader, tee, snp, microcode, fmc
    }

    /// The components of `tcb`, in the order of `CodingKeys`, as `productLine` packs them: Turin FMC in byte 0,
    /// bootloader 1, TEE 2, SNP 3, microcode 7; Milan and Genoa bootloader 0, TEE 1, SNP 6, microcode 7 (no FMC).
    static func components(_ tcb: UInt64, productLine: String?) -> [UInt8] {
        let shifts: [UInt64] = productLine == "Turin" ? [8, 16, 24, 56, 0] : [0, 8, 48, 56]
        return shifts.map { UInt8(truncatingIfNeeded: tcb >> $0) } + (productLine == "Turin" ? [] : [0])
    }

    var components: [UInt8] { [bootloader, tee, snp, microcode, fmc] }
}

extension Policy {
    /// The SEV-SNP checks of the policy stage, in order.
    @PolicyCheckBuilder var snpChecks: some PolicyCheck {
        GuestSVNCheck(minimum: minimumGuestSVN)
        MinimumTCBCheck(minimum: minimumTCB)
        VMPLCheck(required: requiredVMPL)
        MigrationAgentCheck(allowed: allowMigrationAgent)
    }
}

/// `guest-svn`: an SEV-SNP guest's SVN is at least `min_guest_svn`.
struct GuestSVNCheck: NamedPolicyCheck {
    let minimum: UInt32
    var name: CheckName { .guestSVN }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard let claims = subject.claims.details(as: SEVSNPReportClaims.self) else {
            return .notRequired("\(subject.claims.format.rawValue) evidence has no guest SVN")
        }
        return .meetsPolicy(
            if: claims.guestSVN >= minimum, "guest SVN \(claims.guestSVN) is at least \(minimum)",
            else: "guest SVN \(claims.guestSVN) is below the minimum \(minimum)")
    }
}

/// `minimum-tcb`: the report's TCB (which its VCEK states) reaches `[minimum_tcb]` in every component and is not above
/// the platform's current TCB (go-sev-guest's `validate` rules).
struct MinimumTCBCheck: NamedPolicyCheck {
    let minimum: SEVSNPMinimumTCB
    var name: CheckName { .minimumTCB }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard let claims = subject.claims.details(as: SEVSNPReportClaims.self) else {
            return .notRequired("\(subject.claims.format.rawValue) evidence has no SEV-SNP TCB")
        }
        let reported = SEVSNPMinimumTCB.components(claims.reportedTCB, productLine: claims.productLine)
        let current = SEVSNPMinimumTCB.components(claims.currentTCB, productLine: claims.productLine)
        let names = SEVSNPMinimumTCB.CodingKeys.allCases.map(\.rawValue)
        let low = zip(names, zip(reported, minimum.components)).filter { $1.0 < $1.1 }.map { "\($0) \($1.0) < \($1.1)" }
        let above = zip(names, zip(reported, current)).filter { $1.0 > $1.1 }.map(\.0)
        guard low.isEmpty, above.isEmpty else {
            return .failsToMeetPolicy(
                low.isEmpty
                    ? "the reported TCB is above the platform's current TCB in " + above.joined(separator: ", ")
                    : "the reported TCB is below the policy's minimum: " + low.joined(separator: ", "))
        }
        return .meetsPolicy("the reported TCB \(reported) reaches the minimum \(minimum.components)")
    }
}

/// `vmpl`: the report was requested from `required_vmpl`, when the policy names one.
struct VMPLCheck: NamedPolicyCheck {
    let required: UInt32?
    var name: CheckName { .vmpl }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard let claims = subject.claims.details(as: SEVSNPReportClaims.self) else {
            return .notRequired("\(subject.claims.format.rawValue) evidence has no VMPL")
        }
        guard let required else { return .notRequired("the policy requires no VMPL") }
        return .meetsPolicy(
            if: claims.vmpl == required, "requested from VMPL \(required)",
            else: "requested from VMPL \(claims.vmpl), not \(required)")
    }
}

/// `migration-agent`: the guest policy allows no migration agent, unless `allow_migration_agent`.
struct MigrationAgentCheck: NamedPolicyCheck {
    let allowed: Bool
    var name: CheckName { .migrationAgent }

    func evaluate(_ subject: AppraisalSubject) -> PolicyCheckResult {
        guard let claims = subject.claims.details(as: SEVSNPReportClaims.self) else {
            return .notRequired("\(subject.claims.format.rawValue) evidence has no guest policy")
        }
        return .meetsPolicy(
            if: !claims.allowsMigrationAgent || allowed,
            claims.allowsMigrationAgent ? "a migration agent is allowed, as the policy allows" : "no migration agent",
            else: "the guest policy allows a migration agent; the policy does not")
    }
}
