import CloisterCrypto
public import FoundationEssentials

/// A TCB status as Intel's TCB info and QE identity state it (and as dcap-qvl and Intel's QVL report it).
public enum DCAPTCBStatus: String, Sendable, Hashable, Decodable, CaseIterable {
    case upToDate = "UpToDate"
    case swHardeningNeeded = "SWHardeningNeeded"
    case configurationNeeded = "ConfigurationNeeded"
    case configurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
    case outOfDate = "OutOfDate"
    case outOfDateConfigurationNeeded = "OutOfDateConfigurationNeeded"
    case revoked = "Revoked"
}

/// One TCB level of a TCB info or QE identity: the SVNs a platform (or quoting enclave) must reach, and the status
/// and advisories of a platform that reaches it.
public struct DCAPTCBLevel: Sendable, Hashable {
    /// The 16 SGX TCB component SVNs (TCB info only).
    public let sgxComponents: [Int]
    /// The PCE SVN (TCB info), or the QE's ISV SVN (QE identity).
    public let svn: Int
    /// The 16 TDX TCB component SVNs (TDX TCB info only).
    public let tdxComponents: [Int]?
    public let tcbDate: String
    public let status: DCAPTCBStatus
    public let advisoryIDs: [String]
}

/// Intel's TCB info (version 3) for one FMSPC, read from its JSON: what each TCB level of the platform's SGX (and TDX)
/// components means. Its signature and issuer chain are `DCAPCollateral`'s checks; its dates are checked here.
public struct DCAPTCBInfo: Sendable, Hashable {
    /// "SGX" or "TDX".
    public let id: String
    public let issueDate: Date
    public let nextUpdate: Date
    public let fmspc: [UInt8]
    public let pceID: [UInt8]
    public let tcbEvaluationDataNumber: Int
    /// In order, highest first: the first level a platform reaches is its level.
    public let levels: [DCAPTCBLevel]

    private struct Document: Decodable {
        struct Component: Decodable { let svn: Int }
        struct TCB: Decodable {
            let sgxtcbcomponents: [Component]
            let pcesvn: Int
            let tdxtcbcomponents: [Component]?
        }
        let id: String
        let version: Int
        let issueDate: String
        let nextUpdate: String
        let fmspc: String
        let pceId: String
        let tcbEvaluationDataNumber: Int
        let tcbLevels: [DCAPLevelDocument<TCB>]
    }

    /// Reads TCB info JSON (`DCAPCollateral.tcbInfo`); refused, naming what is wrong, unless it is version 3 with
    /// 16 SGX components per level (and 16 TDX components per level of a TDX TCB info).
    public init(json: [UInt8]) throws(AttestationError) {
        let document = try dcapDocument(Document.self, json, "TCB info")
        guard document.version == 3, ["SGX", "TDX"].contains(document.id) else {
            throw AttestationError(
                .malformedEvidence,
                "the TCB info is \(document.id) version \(document.version), not SGX or TDX version 3")
        }
        guard let issued = dcapDate(document.issueDate), let next = dcapDate(document.nextUpdate),
            let fmspc = hexDecoded(document.fmspc), fmspc.count == 6,
            let pceID = hexDecoded(document.pceId), pceID.count == 2, !document.tcbLevels.isEmpty
        else {
            throw AttestationError(
                .malformedEvidence, "the TCB info's dates, FMSPC (6 bytes), PCE-ID (2 bytes) or levels are malformed")
        }
        let isTDX = document.id == "TDX"
        var levels: [DCAPTCBLevel] = []
        for (index, level) in document.tcbLevels.enumerated() {
            let tdx = level.tcb.tdxtcbcomponents?.map(\.svn)
            guard level.tcb.sgxtcbcomponents.count == 16, !isTDX || tdx?.count == 16 else {
                throw AttestationError(
                    .malformedEvidence,
                    "the TCB info's level \(index + 1) does not have 16 SGX\(isTDX ? " and 16 TDX" : "") components")
            }
            levels.append(
                DCAPTCBLevel(
                    sgxComponents: level.tcb.sgxtcbcomponents.map(\.svn), svn: level.tcb.pcesvn,
                    tdxComponents: isTDX ? tdx : nil, tcbDate: level.tcbDate, status: level.tcbStatus,
                    advisoryIDs: level.advisoryIDs ?? []))
        }
        id = document.id
        issueDate = issued
        nextUpdate = next
        self.fmspc = fmspc
        self.pceID = pceID
        tcbEvaluationDataNumber = document.tcbEvaluationDataNumber
        self.levels = levels
    }

    /// The level of a platform whose PCK certificate states `extensions` (and, for TDX, whose TD report states
    /// `teeTCBSVN`): the first level whose SGX components and PCE SVN it all reaches, and for TDX its TDX components
    /// too; nil when it reaches none (Intel's QVL refuses such a quote).
    public func level(of extensions: PCKCertificateExtensions, teeTCBSVN: [UInt8]? = nil) -> DCAPTCBLevel? {
        levels.first { level in
            zip(level.sgxComponents, extensions.componentSVNs).allSatisfy { $0 <= $1 }
                && level.svn <= extensions.pceSVN
                && (level.tdxComponents.map { required in
                    teeTCBSVN.map { zip(required, $0).allSatisfy { $0 <= Int($1) } } ?? false
                } ?? true)
        }
    }
}

/// Intel's identity of its quoting enclave (QE identity version 2), read from its JSON: who the QE must be and the
/// TCB levels of its ISV SVN.
public struct DCAPQEIdentity: Sendable, Hashable {
    /// "QE" (SGX) or "TD_QE" (TDX).
    public let id: String
    public let issueDate: Date
    public let nextUpdate: Date
    public let miscSelect: UInt32
    public let miscSelectMask: UInt32
    public let attributes: [UInt8]
    public let attributesMask: [UInt8]
    public let mrSigner: [UInt8]
    public let isvProdID: Int
    /// Highest first; `svn` is the ISV SVN.
    public let levels: [DCAPTCBLevel]

    private struct Document: Decodable {
        struct TCB: Decodable { let isvsvn: Int }
        let id: String
        let version: Int
        let issueDate: String
        let nextUpdate: String
        let miscselect: String
        let miscselectMask: String
        let attributes: String
        let attributesMask: String
        let mrsigner: String
        let isvprodid: Int
        let tcbLevels: [DCAPLevelDocument<TCB>]
    }

    /// Reads QE identity JSON (`DCAPCollateral.qeIdentity`).
    public init(json: [UInt8]) throws(AttestationError) {
        let document = try dcapDocument(Document.self, json, "QE identity")
        func bytes(_ hex: String, _ count: Int) -> [UInt8]? { hexDecoded(hex).flatMap { $0.count == count ? $0 : nil } }
        guard document.version == 2, ["QE", "TD_QE"].contains(document.id),
            let issued = dcapDate(document.issueDate), let next = dcapDate(document.nextUpdate),
            let misc = bytes(document.miscselect, 4), let miscMask = bytes(document.miscselectMask, 4),
            let attributes = bytes(document.attributes, 16), let attributesMask = bytes(document.attributesMask, 16),
            let mrSigner = bytes(document.mrsigner, 32), !document.tcbLevels.isEmpty
        else {
            throw AttestationError(
                .malformedEvidence,
                "the QE identity is not a version 2 QE or TD_QE identity with its dates, MISCSELECT, attributes, "
                    + "MRSIGNER and levels")
        }
        id = document.id
        issueDate = issued
        nextUpdate = next
        // Intel writes MISCSELECT as the big-endian hex of the 32-bit value.
        miscSelect = misc.reduce(0) { $0 << 8 | UInt32($1) }
        miscSelectMask = miscMask.reduce(0) { $0 << 8 | UInt32($1) }
        self.attributes = attributes
        self.attributesMask = attributesMask
        self.mrSigner = mrSigner
        isvProdID = document.isvprodid
        levels = document.tcbLevels.map {
            DCAPTCBLevel(
                sgxComponents: [], svn: $0.tcb.isvsvn, tdxComponents: nil, tcbDate: $0.tcbDate, status: $0.tcbStatus,
                advisoryIDs: $0.advisoryIDs ?? [])
        }
    }

    /// What about `report` (the QE's) differs from this identity: MRSIGNER, ISVPRODID, MISCSELECT or ATTRIBUTES under
    /// their masks; empty when it is this QE.
    public func mismatches(_ report: SGXReportBody) -> [String] {
        var found: [String] = []
        if report.mrSigner != mrSigner { found.append("MRSIGNER") }
        if Int(report.isvProdID) != isvProdID { found.append("ISVPRODID \(report.isvProdID), not \(isvProdID)") }
        if report.miscSelect & miscSelectMask != miscSelect & miscSelectMask { found.append("MISCSELECT") }
        if !zip(zip(report.attributes, attributes), attributesMask).allSatisfy({ $0.0 & $1 == $0.1 & $1 }) {
            found.append("ATTRIBUTES")
        }
        return found
    }

    /// The level of a QE of ISV SVN `isvSVN`: the first it reaches; nil when none.
    public func level(isvSVN: UInt16) -> DCAPTCBLevel? {
        levels.first { $0.svn <= Int(isvSVN) }
    }
}

/// A TCB level as TCB info and QE identity write it, around each one's own `tcb` object.
private struct DCAPLevelDocument<TCB: Decodable>: Decodable {
    let tcb: TCB
    let tcbDate: String
    let tcbStatus: DCAPTCBStatus
    let advisoryIDs: [String]?
}

/// Decodes the JSON of a collateral item (`what`: "TCB info", "QE identity"), refusing it, named, when it does not
/// decode as `type`.
private func dcapDocument<Document: Decodable>(
    _ type: Document.Type, _ json: [UInt8], _ what: String
) throws(AttestationError) -> Document {
    do {
        return try JSONDecoder().decode(type, from: Data(json))
    } catch {
        throw AttestationError(.malformedEvidence, "the \(what) is not \(what) JSON: \(error)")
    }
}

/// A collateral date: RFC 3339 in UTC with whole seconds ("2025-06-19T10:56:11Z"), as Intel writes them.
func dcapDate(_ text: String) -> Date? {
    try? Date(text, strategy: .iso8601)
}

extension CheckName {
    /// The TCB info and the QE identity are current: issued before the appraisal's time and not past their next
    /// update.
    public static let collateralCurrent = CheckName("collateral-current", aspect: .hardware)
    /// The TCB info is for this platform: its TEE, FMSPC and PCE-ID are the quote's and the PCK certificate's.
    public static let tcbInfoPlatform = CheckName("tcb-info-platform", aspect: .hardware)
    /// The QE report is of Intel's quoting enclave (MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under their masks)
    /// at a TCB level the QE identity lists.
    public static let qeIdentity = CheckName("qe-identity", aspect: .hardware)
    /// The platform reaches a TCB level of its TCB info.
    public static let tcbLevel = CheckName("tcb-level", aspect: .hardware)
}

/// What a quote's TCB comes to: the platform's level, the QE's level, and their combined status and advisories.
public struct DCAPTCBEvaluation: Sendable, Hashable {
    public let platformLevel: DCAPTCBLevel
    public let qeLevel: DCAPTCBLevel
    /// The platform's status, made OutOfDate (or OutOfDateConfigurationNeeded) by an out-of-date QE and Revoked by a
    /// revoked one, as Intel's QVL converges them.
    public let status: DCAPTCBStatus
    /// The platform level's advisories, then the QE level's not already listed.
    public let advisoryIDs: [String]

    init(platformLevel: DCAPTCBLevel, qeLevel: DCAPTCBLevel) {
        self.platformLevel = platformLevel
        self.qeLevel = qeLevel
        switch (qeLevel.status, platformLevel.status) {
        case (.revoked, _): status = .revoked
        case (.outOfDate, .upToDate), (.outOfDate, .swHardeningNeeded): status = .outOfDate
        case (.outOfDate, .configurationNeeded), (.outOfDate, .configurationAndSWHardeningNeeded):
            status = .outOfDateConfigurationNeeded
        default: status = platformLevel.status
        }
        advisoryIDs = platformLevel.advisoryIDs + qeLevel.advisoryIDs.filter { !platformLevel.advisoryIDs.contains($0) }
    }
}

extension IntelDCAPQuote {
    /// The checks of what the collateral says about this quote at `time`, each run and named: `collateral-current`,
    /// `tcb-info-platform`, `qe-identity` and `tcb-level`; and the TCB evaluation when the QE and the platform each
    /// reach a level. `pck` are the SGX extensions of the quote's PCK certificate.
    public func tcbChecks(
        pck: PCKCertificateExtensions, tcbInfo: DCAPTCBInfo, qeIdentity: DCAPQEIdentity, at time: Date
    ) -> (checks: [EvidenceCheck], evaluation: DCAPTCBEvaluation?) {
        let tee = header.tee == .sgx ? "SGX" : "TDX"
        let teeTCBSVN: [UInt8]? = if case .td(let body) = body { body.teeTCBSVN } else { nil }
        let qeLevel = qeIdentity.level(isvSVN: qeReport.isvSVN)
        let platformLevel = tcbInfo.level(of: pck, teeTCBSVN: teeTCBSVN)
        let checks = [
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
                guard qeIdentity.id == expected, mismatches.isEmpty, qeLevel != nil else {
                    throw AttestationError(
                        .badCertificate,
                        qeIdentity.id != expected
                            ? "the QE identity is \(qeIdentity.id)'s, not \(expected)'s"
                            : mismatches.isEmpty
                                ? "the QE's ISV SVN \(qeReport.isvSVN) is below every level of its identity"
                                : "the QE report differs from the QE identity in " + mismatches.joined(separator: ", "))
                }
            },
            EvidenceCheck.run(.tcbLevel, "the platform reaches a level of its TCB info") {
                guard platformLevel != nil else {
                    throw AttestationError(
                        .badCertificate,
                        "the platform's TCB (PCK component SVNs \(pck.componentSVNs), PCESVN \(pck.pceSVN)"
                            + (teeTCBSVN.map { ", TEE TCB SVN \(hexEncoded($0))" } ?? "")
                            + ") is below every level of its TCB info")
                }
            },
        ]
        let evaluation = platformLevel.flatMap { platform in
            qeLevel.map { DCAPTCBEvaluation(platformLevel: platform, qeLevel: $0) }
        }
        return (checks, evaluation)
    }
}
