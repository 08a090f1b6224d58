import CloisterCrypto
import FoundationEssentials

/// The TCB info (version 3) and QE identity (version 2) JSON the simulated vendor signs, written byte for byte in
/// Intel's field order (what PCS serves inside `{"tcbInfo":…,"signature":…}`), by the rules of `SimulatedIntelVendor`.
struct SimulatedIntelDocuments {
    let platform: SimulatedIntelPlatform
    let tcb: SimulatedTCB
    let issueDate: Date

    /// TCB info and QE identity are valid for 30 days, as Intel's.
    static let validity: TimeInterval = 30 * 86_400

    /// One published level: its number, status and advisories.
    private struct Level {
        let level: UInt32
        let status: String
        let advisoryIDs: [String]
    }

    /// The platform's levels, latest first: UpToDate at the latest, OutOfDate below it with the advisories of every
    /// recovery since; the platform's own level ConfigurationNeeded (OutOfDateConfigurationNeeded below the latest)
    /// when its configuration needs attention.
    private func platformLevels() -> [Level] {
        stride(from: tcb.latestLevel, through: 1, by: -1).map { level in
            let latest = level == tcb.latestLevel
            var status = latest ? "UpToDate" : "OutOfDate"
            if tcb.configurationNeeded && level == tcb.level {
                status = latest ? "ConfigurationNeeded" : "OutOfDateConfigurationNeeded"
            }
            return Level(level: level, status: status, advisoryIDs: tcb.advisoryIDs(at: level))
        }
    }

    /// A component's levels (the QE's, the TDX module's): UpToDate at the latest, OutOfDate below.
    private func componentLevels() -> [Level] {
        stride(from: tcb.latestLevel, through: 1, by: -1).map { level in
            Level(
                level: level, status: level == tcb.latestLevel ? "UpToDate" : "OutOfDate",
                advisoryIDs: tcb.advisoryIDs(at: level))
        }
    }

    /// The TCB date of `level`: midnight of the issue date, 30 days earlier for each level below the latest.
    private func tcbDate(_ level: UInt32) -> String {
        let midnight = (issueDate.timeIntervalSince1970 / 86_400).rounded(.down) * 86_400
        return Self.date(Date(timeIntervalSince1970: midnight - Double(tcb.latestLevel - level) * 30 * 86_400))
    }

    /// RFC 3339 in UTC with whole seconds, as Intel writes its dates.
    static func date(_ date: Date) -> String {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
    }

    private var header: String {
        "\"issueDate\":\"\(Self.date(issueDate))\",\"nextUpdate\":\"\(Self.date(issueDate + Self.validity))\""
    }

    private var evaluationDataNumber: UInt32 { tcb.latestLevel + SimulatedIntelPlatform.tcbEvaluationDataNumberBase }

    private static func levelTail(_ level: Level, date: String) -> String {
        "\"tcbDate\":\"\(date)\",\"tcbStatus\":\"\(level.status)\""
            + (level.advisoryIDs.isEmpty
                ? "" : ",\"advisoryIDs\":[" + level.advisoryIDs.map { "\"\($0)\"" }.joined(separator: ",") + "]")
    }

    private static func components(_ svns: [UInt8]) -> String {
        "[" + svns.map { "{\"svn\":\($0)}" }.joined(separator: ",") + "]"
    }

    /// The TCB info of `tee` ("SGX" or "TDX").
    func tcbInfo(tdx: Bool) -> [UInt8] {
        let zeros = String(repeating: "0", count: 96)
        var json =
            "{\"id\":\"\(tdx ? "TDX" : "SGX")\",\"version\":3,\(header),\"fmspc\":\""
            + hexEncoded(platform.fmspc).uppercased() + "\",\"pceId\":\""
            + hexEncoded(SimulatedIntelPlatform.pceID).uppercased()
            + "\",\"tcbType\":0,\"tcbEvaluationDataNumber\":\(evaluationDataNumber),"
        if tdx {
            let module =
                "\"mrsigner\":\"\(zeros)\",\"attributes\":\"0000000000000000\",\"attributesMask\":\"FFFFFFFFFFFFFFFF\""
            let moduleLevels = componentLevels().map {
                "{\"tcb\":{\"isvsvn\":\(SimulatedIntelPlatform.svn8($0.level))},"
                    + Self.levelTail($0, date: tcbDate($0.level)) + "}"
            }
            json +=
                "\"tdxModule\":{\(module)},\"tdxModuleIdentities\":[{\"id\":\"TDX_0"
                + String(SimulatedIntelPlatform.tdxModuleMajorVersion, radix: 16, uppercase: true) + "\",\(module),"
                + "\"tcbLevels\":[" + moduleLevels.joined(separator: ",") + "]}],"
        }
        let levels = platformLevels().map { level in
            "{\"tcb\":{\"sgxtcbcomponents\":" + Self.components(SimulatedIntelPlatform.sgxComponents(level.level))
                + ",\"pcesvn\":\(SimulatedIntelPlatform.svn16(level.level))"
                + (tdx
                    ? ",\"tdxtcbcomponents\":" + Self.components(SimulatedIntelPlatform.tdxComponents(level.level))
                    : "")
                + "}," + Self.levelTail(level, date: tcbDate(level.level)) + "}"
        }
        json += "\"tcbLevels\":[" + levels.joined(separator: ",") + "]}"
        return Array(json.utf8)
    }

    /// The QE identity of the SGX QE ("QE", ISVPRODID 1) or the TDX QE ("TD_QE", ISVPRODID 2).
    func qeIdentity(tdx: Bool) -> [UInt8] {
        let levels = componentLevels().map {
            "{\"tcb\":{\"isvsvn\":\(SimulatedIntelPlatform.svn16($0.level))},"
                + Self.levelTail($0, date: tcbDate($0.level)) + "}"
        }
        let json =
            "{\"id\":\"\(tdx ? "TD_QE" : "QE")\",\"version\":2,\(header),"
            + "\"tcbEvaluationDataNumber\":\(evaluationDataNumber),\"miscselect\":\"00000000\","
            + "\"miscselectMask\":\"FFFFFFFF\",\"attributes\":\"11000000000000000000000000000000\","
            + "\"attributesMask\":\"FBFFFFFFFFFFFFFF0000000000000000\",\"mrsigner\":\""
            + hexEncoded(SimulatedIntelPlatform.qeMRSigner).uppercased() + "\",\"isvprodid\":"
            + "\(tdx ? SimulatedIntelPlatform.tdxQEProductID : SimulatedIntelPlatform.sgxQEProductID),"
            + "\"tcbLevels\":[" + levels.joined(separator: ",") + "]}"
        return Array(json.utf8)
    }
}
