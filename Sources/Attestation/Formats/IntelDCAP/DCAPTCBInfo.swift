import CloisterCrypto
public import FoundationEssentials

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
    public let status: TCBStatus
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
    /// Highest first (sorted as Intel's QVL sorts them: by SGX components, then PCE SVN, then TDX components, each
    /// compared in order): the first level a platform reaches is its level.
    public let levels: [DCAPTCBLevel]
    /// TDX: the identity of the TDX module when its major version (`tee_tcb_svn[1]`) is 0 (`tdxModule`), and by
    /// major version ("TDX_01", ...) otherwise, with the TCB levels of its minor version.
    public let tdxModule: DCAPTDXModuleIdentity?
    public let tdxModuleIdentities: [DCAPTDXModuleIdentity]

    private struct Document: Decodable {
        struct Component: Decodable { let svn: Int }
        struct TCB: Decodable {
            let sgxtcbcomponents: [Component]
            let pcesvn: Int
            let tdxtcbcomponents: [Component]?
        }
        struct Module: Decodable {
            struct TCB: Decodable { let isvsvn: Int }
            let id: String?
            let mrsigner: String
            let attributes: String
            let attributesMask: String
            let tcbLevels: [DCAPLevelDocument<TCB>]?
        }
        let id: String
        let version: Int
        let issueDate: String
        let nextUpdate: String
        let fmspc: String
        let pceId: String
        let tcbEvaluationDataNumber: Int
        let tcbLevels: [DCAPLevelDocument<TCB>]
        let tdxModule: Module?
        let tdxModuleIdentities: [Module]?
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
            let components = level.tcb.sgxtcbcomponents.map(\.svn) + (tdx ?? [])
            guard level.tcb.sgxtcbcomponents.count == 16, !isTDX || tdx?.count == 16,
                components.allSatisfy({ (0...255).contains($0) }), (0...65535).contains(level.tcb.pcesvn)
            else {
                throw AttestationError(
                    .malformedEvidence,
                    "the TCB info's level \(index + 1) does not have 16 SGX\(isTDX ? " and 16 TDX" : "") components "
                        + "of 0 to 255 and a PCESVN of 0 to 65535")
            }
            levels.append(
                DCAPTCBLevel(
                    sgxComponents: level.tcb.sgxtcbcomponents.map(\.svn), svn: level.tcb.pcesvn,
                    tdxComponents: isTDX ? tdx : nil, tcbDate: level.tcbDate, status: level.tcbStatus.status,
                    advisoryIDs: level.advisoryIDs ?? []))
        }
        func module(_ module: Document.Module, _ name: String) throws(AttestationError) -> DCAPTDXModuleIdentity {
            guard let mrSigner = hexDecoded(module.mrsigner), mrSigner.count == 48,
                let attributes = hexDecoded(module.attributes), attributes.count == 8,
                let mask = hexDecoded(module.attributesMask), mask.count == 8
            else {
                throw AttestationError(
                    .malformedEvidence,
                    "the TCB info's \(name) does not have a 48-byte mrsigner and 8-byte attributes and mask")
            }
            return DCAPTDXModuleIdentity(
                id: module.id ?? "", mrSigner: mrSigner, attributes: attributes, attributesMask: mask,
                levels: (module.tcbLevels ?? []).map {
                    DCAPTCBLevel(
                        sgxComponents: [], svn: $0.tcb.isvsvn, tdxComponents: nil, tcbDate: $0.tcbDate,
                        status: $0.tcbStatus.status, advisoryIDs: $0.advisoryIDs ?? [])
                })
        }
        id = document.id
        issueDate = issued
        nextUpdate = next
        self.fmspc = fmspc
        self.pceID = pceID
        tcbEvaluationDataNumber = document.tcbEvaluationDataNumber
        self.levels = levels.enumerated().sorted { left, right in
            let order = DCAPTCBLevel.compare(left.element, right.element)
            return order == 0 ? left.offset < right.offset : order > 0
        }.map(\.element)
        tdxModule = try document.tdxModule.map { (value) throws(AttestationError) in try module(value, "tdxModule") }
        var identities: [DCAPTDXModuleIdentity] = []
        for (index, identity) in (document.tdxModuleIdentities ?? []).enumerated() {
            identities.append(try module(identity, "tdxModuleIdentities[\(index)]"))
        }
        tdxModuleIdentities = identities
    }

    /// The level of a platform whose PCK certificate states `extensions` (and, for TDX, whose TD report states
    /// `teeTCBSVN`): the first level whose SGX components and PCE SVN it all reaches, and for TDX its TDX components
    /// too (from the third on when the TDX module's major version, `teeTCBSVN[1]`, is not 0: the module's own
    /// identity judges the first two); nil when it reaches none (Intel's QVL refuses such a quote).
    public func level(of extensions: PCKCertificateExtensions, teeTCBSVN: [UInt8]? = nil) -> DCAPTCBLevel? {
        let skipped = (teeTCBSVN?[1] ?? 0) > 0 ? 2 : 0
        return levels.first { level in
            zip(level.sgxComponents, extensions.componentSVNs).allSatisfy { $0 <= $1 }
                && level.svn <= extensions.pceSVN
                && (level.tdxComponents.map { required in
                    teeTCBSVN.map { zip(required, $0).dropFirst(skipped).allSatisfy { $0 <= Int($1) } } ?? false
                } ?? true)
        }
    }

    /// The TDX module identity for `teeTCBSVN` (`tdxModule` for major version 0, else "TDX_0N"), or nil.
    public func moduleIdentity(teeTCBSVN: [UInt8]) -> DCAPTDXModuleIdentity? {
        guard teeTCBSVN[1] > 0 else { return tdxModule }
        return moduleIdentity(major: teeTCBSVN[1])
    }

    /// The identity "TDX_0N" of major version `major` (its id compared without regard to ASCII case), or nil.
    func moduleIdentity(major: UInt8) -> DCAPTDXModuleIdentity? {
        let id = "TDX_" + (major < 16 ? "0" : "") + String(major, radix: 16, uppercase: true)
        return tdxModuleIdentities.first { $0.id.uppercased() == id }
    }
}

/// A TDX module's identity in a TDX TCB info: its signer and SEAM attributes, and the TCB levels of its minor
/// version (`svn` is the minor version, `tee_tcb_svn[0]`).
public struct DCAPTDXModuleIdentity: Sendable, Hashable {
    public let id: String
    public let mrSigner: [UInt8]
    public let attributes: [UInt8]
    public let attributesMask: [UInt8]
    /// In the order of the JSON: the first a module reaches is its level.
    public let levels: [DCAPTCBLevel]

    /// Whether a TD report's SEAM signer and attributes are this module's: the signer equal, every attribute bit
    /// under the mask equal and none set outside it.
    func matches(_ report: TDReportBody) -> Bool {
        report.mrSignerSeam == mrSigner
            && zip(report.seamAttributes, zip(attributes, attributesMask)).allSatisfy { value, expected in
                value & expected.1 == expected.0 & expected.1 && value & ~expected.1 == 0
            }
    }
}

extension DCAPTCBLevel {
    /// Intel's order of TCB levels: SGX components, then PCE SVN, then TDX components, each compared in order;
    /// positive when `left` is higher.
    static func compare(_ left: DCAPTCBLevel, _ right: DCAPTCBLevel) -> Int {
        let keys = [
            (left.sgxComponents, right.sgxComponents), ([left.svn], [right.svn]),
            (left.tdxComponents ?? [], right.tdxComponents ?? []),
        ]
        for (lhs, rhs) in keys {
            if let (a, b) = zip(lhs, rhs).first(where: { $0 != $1 }) { return a > b ? 1 : -1 }
            if lhs.count != rhs.count { return lhs.count > rhs.count ? 1 : -1 }
        }
        return 0
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

    /// Reads QE identity JSON (`DCAPCollateral.qeIdentity`): version 2 (a TD_QE's also 3).
    public init(json: [UInt8]) throws(AttestationError) {
        let document = try dcapDocument(Document.self, json, "QE identity")
        func bytes(_ hex: String, _ count: Int) -> [UInt8]? { hexDecoded(hex).flatMap { $0.count == count ? $0 : nil } }
        guard document.version == 2 || (document.id == "TD_QE" && document.version == 3),
            ["QE", "TD_QE"].contains(document.id),
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
        // MISCSELECT's hex is its bytes as the report holds them (little endian), as dcap-qvl reads it.
        miscSelect = misc.reversed().reduce(0) { $0 << 8 | UInt32($1) }
        miscSelectMask = miscMask.reversed().reduce(0) { $0 << 8 | UInt32($1) }
        self.attributes = attributes
        self.attributesMask = attributesMask
        self.mrSigner = mrSigner
        isvProdID = document.isvprodid
        levels = document.tcbLevels.map {
            DCAPTCBLevel(
                sgxComponents: [], svn: $0.tcb.isvsvn, tdxComponents: nil, tcbDate: $0.tcbDate,
                status: $0.tcbStatus.status,
                advisoryIDs: $0.advisoryIDs ?? [])
        }
    }

    /// What about `report` (the QE's) differs from this identity: MRSIGNER, ISVPRODID, MISCSELECT or ATTRIBUTES under
    /// their masks, or a debug QE; empty when it is this QE.
    public func mismatches(_ report: SGXReportBody) -> [String] {
        var found: [String] = []
        if report.mrSigner != mrSigner { found.append("MRSIGNER") }
        if report.isDebug { found.append("DEBUG (the QE is a debug enclave)") }
        if Int(report.isvProdID) != isvProdID { found.append("ISVPRODID \(report.isvProdID), not \(isvProdID)") }
        if report.miscSelect & miscSelectMask != miscSelect & miscSelectMask { found.append("MISCSELECT") }
        if !zip(zip(report.attributes, attributes), attributesMask).allSatisfy({ $0.0 & $1 == $0.1 & $1 }) {
            found.append("ATTRIBUTES")
        }
        return found
    }

    /// The level of a QE of ISV SVN `isvSVN`: the first it reaches, in the identity's order; nil when none.
    public func level(isvSVN: UInt16) -> DCAPTCBLevel? {
        levels.first { $0.svn <= Int(isvSVN) }
    }

    /// The statuses a QE's level may have (a QE needs no software hardening).
    static let qeStatuses: Set<TCBStatus> = [
        .upToDate, .outOfDate, .configurationNeeded, .revoked, .outOfDateConfigurationNeeded,
    ]
}

/// A TCB level as TCB info and QE identity write it, around each one's own `tcb` object.
private struct DCAPLevelDocument<TCB: Decodable>: Decodable {
    let tcb: TCB
    let tcbDate: String
    let tcbStatus: IntelTCBStatus
    let advisoryIDs: [String]?
}

/// A TCB status in Intel's spelling ("UpToDate"); any other text does not decode.
private struct IntelTCBStatus: Decodable {
    let status: TCBStatus

    init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        guard let status = TCBStatus(intelName: name) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(codingPath: decoder.codingPath, debugDescription: "unknown TCB status \(name)"))
        }
        self.status = status
    }
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
