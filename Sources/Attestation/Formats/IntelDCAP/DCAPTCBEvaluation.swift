import CloisterCrypto
public import FoundationEssentials

extension CheckName {
    /// The TCB info and the QE identity are current: issued before the appraisal's time and not past their next
    /// update.
    public static let collateralCurrent = CheckName("collateral-current", aspect: .hardware)
    /// The TCB info is for this platform: its TEE, FMSPC and PCE-ID are the quote's and the PCK certificate's.
    public static let tcbInfoPlatform = CheckName("tcb-info-platform", aspect: .hardware)
    /// The QE report is of Intel's quoting enclave (MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under their masks,
    /// not debug) at a TCB level the QE identity lists.
    public static let qeIdentity = CheckName("qe-identity", aspect: .hardware)
    /// The TDX module is Intel's (its signer and SEAM attributes those of its identity in the TCB info).
    public static let tdxModule = CheckName("tdx-module", aspect: .hardware)
    /// The platform (with, for TDX, its TDX module) reaches a TCB level of its TCB info, and the combined status is
    /// not Revoked.
    public static let tcbLevel = CheckName("tcb-level", aspect: .hardware)
}

/// What a quote's TCB comes to, as Intel's QVL (EvaluateTcb, TDRelaunchCheck) and dcap-qvl converge it: the
/// platform's level, made worse by the TDX module's and the QE's levels, and for a TD 1.5 report whether the TD
/// should be relaunched on the platform's current TCB; with the advisories of every level that contributed.
public struct DCAPTCBEvaluation: Sendable, Hashable {
    public let status: TCBStatus
    /// The platform level's advisories, then the TDX module level's and the QE level's not already listed.
    public let advisoryIDs: [String]

    init(status: TCBStatus, advisoryIDs: [String]) {
        self.status = status
        self.advisoryIDs = advisoryIDs
    }

    /// `status` as a component at `component` leaves it: a revoked component revokes it, an out-of-date one makes it
    /// out of date (keeping "configuration needed"), any other leaves it.
    static func converge(_ status: TCBStatus, with component: TCBStatus) -> TCBStatus {
        switch (component, status) {
        case (.revoked, _): .revoked
        case (.outOfDate, .upToDate), (.outOfDate, .swHardeningNeeded): .outOfDate
        case (.outOfDate, .configurationNeeded), (.outOfDate, .configurationAndSWHardeningNeeded):
            .outOfDateConfigurationNeeded
        default: status
        }
    }

    /// A TD launched at an out-of-date TCB on a platform whose current TCB is not: relaunching it is advised.
    static func relaunch(launched: TCBStatus, current: TCBStatus) -> TCBStatus {
        let outOfDate: Set<TCBStatus> = [.outOfDate, .outOfDateConfigurationNeeded]
        let currentIsFine: Set<TCBStatus> = [
            .upToDate, .swHardeningNeeded, .configurationNeeded, .configurationAndSWHardeningNeeded,
        ]
        guard outOfDate.contains(launched), currentIsFine.contains(current) else { return launched }
        let configuration: Set<TCBStatus> = [
            .configurationNeeded, .outOfDateConfigurationNeeded, .configurationAndSWHardeningNeeded,
        ]
        return configuration.contains(launched) || configuration.contains(current)
            ? .tdRelaunchAdvisedConfigurationNeeded : .tdRelaunchAdvised
    }

    /// `advisories` followed by those of `more` not already listed.
    static func merged(_ advisories: [String], _ more: [String]) -> [String] {
        advisories + more.filter { !advisories.contains($0) }
    }
}

extension IntelDCAPQuote {
    /// The checks of what the collateral says about this quote at `time`, each run and named: `collateral-current`,
    /// `tcb-info-platform`, `qe-identity`, for TDX `tdx-module`, and `tcb-level`; and the TCB evaluation when the QE
    /// and the platform each reach a level. `pck` are the SGX extensions of the quote's PCK certificate.
    public func tcbChecks(
        pck: PCKCertificateExtensions, tcbInfo: DCAPTCBInfo, qeIdentity: DCAPQEIdentity, at time: Date
    ) -> (checks: [EvidenceCheck], evaluation: DCAPTCBEvaluation?) {
        let tee = header.tee == .sgx ? "SGX" : "TDX"
        let report: TDReportBody? = if case .td(let body) = body { body } else { nil }
        let qeLevel = qeIdentity.level(isvSVN: qeReport.isvSVN)
        var checks = [
            EvidenceCheck.run(.collateralCurrent, "the TCB info and the QE identity are current") {
                for (what, issued, next) in [
                    ("TCB info", tcbInfo.issueDate, tcbInfo.nextUpdate),
                    ("QE identity", qeIdentity.issueDate, qeIdentity.nextUpdate),
                ] where !(issued <= time && time <= next) {
                    throw AttestationError(
                        .badCertificate, "the \(what) is valid from \(issued) to \(next), not at \(time)")
                }
            },
            EvidenceCheck.run(.tcbInfoPlatform, "the TCB info is the \(tee) TCB info of this FMSPC and PCE-ID") {
                guard tcbInfo.id == tee, tcbInfo.fmspc == pck.fmspc, tcbInfo.pceID == pck.pceID else {
                    throw AttestationError(
                        .badCertificate,
                        "the TCB info is \(tcbInfo.id)'s for FMSPC \(hexEncoded(tcbInfo.fmspc)) and PCE-ID "
                            + "\(hexEncoded(tcbInfo.pceID)); the quote is \(tee)'s, the PCK certificate's FMSPC "
                            + "\(hexEncoded(pck.fmspc)) and PCE-ID \(hexEncoded(pck.pceID))")
                }
            },
            EvidenceCheck.run(.qeIdentity, "the QE report is of Intel's \(tee) quoting enclave at a listed level") {
                let expected = header.tee == .sgx ? "QE" : "TD_QE"
                let mismatches = qeIdentity.mismatches(qeReport)
                guard qeIdentity.id == expected, mismatches.isEmpty, let qeLevel else {
                    throw AttestationError(
                        .badCertificate,
                        qeIdentity.id != expected
                            ? "the QE identity is \(qeIdentity.id)'s, not \(expected)'s"
                            : mismatches.isEmpty
                                ? "the QE's ISV SVN \(qeReport.isvSVN) is below every level of its identity"
                                : "the QE report differs from the QE identity in " + mismatches.joined(separator: ", "))
                }
                guard DCAPQEIdentity.qeStatuses.contains(qeLevel.status) else {
                    throw AttestationError(
                        .badCertificate, "the QE's level has status \(qeLevel.status.intelName), which a QE cannot have"
                    )
                }
            },
        ]
        if let report {
            checks.append(moduleCheck(report, tcbInfo: tcbInfo))
        }
        var evaluation: DCAPTCBEvaluation?
        checks.append(
            EvidenceCheck.run(.tcbLevel, "the platform reaches a level of its TCB info, not revoked") {
                var launched = try platformEvaluation(pck: pck, tcbInfo: tcbInfo, teeTCBSVN: report?.teeTCBSVN)
                guard let qeLevel else {
                    throw AttestationError(.badCertificate, "the QE reaches no level of its identity")
                }
                launched = DCAPTCBEvaluation(
                    status: DCAPTCBEvaluation.converge(launched.status, with: qeLevel.status),
                    advisoryIDs: DCAPTCBEvaluation.merged(launched.advisoryIDs, qeLevel.advisoryIDs))
                var status = launched.status
                if let current = report?.teeTCBSVN2 {
                    let now = DCAPTCBEvaluation.converge(
                        try platformEvaluation(pck: pck, tcbInfo: tcbInfo, teeTCBSVN: current).status,
                        with: qeLevel.status)
                    guard now != .revoked else {
                        throw AttestationError(.badCertificate, "the platform's current TCB (TEE TCB SVN 2) is Revoked")
                    }
                    status = DCAPTCBEvaluation.relaunch(launched: status, current: now)
                }
                guard launched.status != .revoked else {
                    throw AttestationError(.badCertificate, "the platform's TCB status is Revoked")
                }
                evaluation = DCAPTCBEvaluation(status: status, advisoryIDs: launched.advisoryIDs)
            })
        return (checks, evaluation)
    }

    /// The platform's level for `teeTCBSVN` (nil for SGX), converged with its TDX module's level when the module's
    /// major version is not 0. Throws, naming what is missing, when the platform or the module reaches no level.
    private func platformEvaluation(
        pck: PCKCertificateExtensions, tcbInfo: DCAPTCBInfo, teeTCBSVN: [UInt8]?
    ) throws(AttestationError) -> DCAPTCBEvaluation {
        guard let level = tcbInfo.level(of: pck, teeTCBSVN: teeTCBSVN) else {
            throw AttestationError(
                .badCertificate,
                "the platform's TCB (PCK component SVNs \(pck.componentSVNs), PCESVN \(pck.pceSVN)"
                    + (teeTCBSVN.map { ", TEE TCB SVN \(hexEncoded($0))" } ?? "")
                    + ") is below every level of its TCB info")
        }
        guard let svn = teeTCBSVN, svn[1] > 0 else {
            return DCAPTCBEvaluation(status: level.status, advisoryIDs: level.advisoryIDs)
        }
        guard let identity = tcbInfo.moduleIdentity(major: svn[1]) else {
            throw AttestationError(
                .badCertificate, "the TCB info has no identity for TDX module major version \(svn[1])")
        }
        guard let module = identity.levels.first(where: { Int(svn[0]) >= $0.svn }) else {
            throw AttestationError(
                .badCertificate, "the TDX module's minor version \(svn[0]) is below every level of \(identity.id)")
        }
        guard [TCBStatus.upToDate, .outOfDate, .revoked].contains(module.status) else {
            throw AttestationError(
                .badCertificate,
                "the TDX module's level has status \(module.status.intelName), which a module cannot have")
        }
        return DCAPTCBEvaluation(
            status: DCAPTCBEvaluation.converge(level.status, with: module.status),
            advisoryIDs: DCAPTCBEvaluation.merged(level.advisoryIDs, module.advisoryIDs))
    }

    /// `tdx-module`: the TD report's SEAM signer and attributes are those of the TDX module identity its TEE TCB SVN
    /// names (`tdxModule` for major version 0, else "TDX_0N").
    private func moduleCheck(_ report: TDReportBody, tcbInfo: DCAPTCBInfo) -> EvidenceCheck {
        EvidenceCheck.run(.tdxModule, "the TDX module's signer and SEAM attributes are its identity's") {
            guard tcbInfo.tdxModule != nil else {
                throw AttestationError(.badCertificate, "the TDX TCB info has no tdxModule")
            }
            guard let identity = tcbInfo.moduleIdentity(teeTCBSVN: report.teeTCBSVN) else {
                throw AttestationError(
                    .badCertificate,
                    "the TCB info has no identity for TDX module major version \(report.teeTCBSVN[1])")
            }
            guard identity.matches(report) else {
                throw AttestationError(
                    .badCertificate,
                    "the TD report's SEAM signer or attributes differ from TDX module identity "
                        + (identity.id.isEmpty ? "tdxModule" : identity.id))
            }
        }
    }
}
