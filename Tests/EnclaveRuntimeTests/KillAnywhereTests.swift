import CloisterTestSupport
import Foundation
import Testing

/// `cloister platform info --json` on `home`: its exit status and, when it read, the JSON.
private func info(_ home: String) throws -> (status: Int32, json: [String: Any]?) {
    let output = try runTool(cloisterExecutable, ["platform", "info", "--home", home, "--json"])
    let json = try? JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any]
    return (output.status, json)
}

/// How long an uninterrupted `cloister` run with `arguments` takes (and that it succeeds).
private func timed(_ arguments: [String]) throws -> TimeInterval {
    let start = Date()
    let output = try runTool(cloisterExecutable, arguments)
    try #require(output.status == 0, "\(arguments): \(output.standardError)")
    return Date().timeIntervalSince(start)
}

@Suite("Kill anywhere: a platform home SIGKILLed at random points of an operation reads as before or after it")
struct KillAnywhereTests {
    @Test("platform init, killed 20 times: no platform (and init then succeeds) or a whole one, never a broken home")
    func platformInit() throws {
        let directory = try TestEnvironment.temporaryDirectory("kill-init")
        defer { try? FileManager.default.removeItem(at: directory) }
        var duration = try timed([
            "platform", "init", "--home", directory.appendingPathComponent("timing").path, "--amd-key-bits", "2048",
        ])
        var index = 0
        var home = ""
        let kills = try killAnywhere(runs: 20, duration: { duration }) {
            index += 1
            home = directory.appendingPathComponent("home-\(index)").path
            return ["platform", "init", "--home", home, "--amd-key-bits", "2048"]
        } classify: { exitStatus in
            let read = try info(home)
            if read.status == 0, read.json?["platform_id"] is String {
                return (exitStatus ?? 0) == 0 ? .new : .broken
            }
            // No platform: the interrupted init must leave nothing that stops the next one.
            guard read.status == 78, exitStatus == nil else { return .broken }
            // Timed, so that the next kill's window follows the machine's load.
            let start = Date()
            let again = try runTool(cloisterExecutable, ["platform", "init", "--home", home, "--amd-key-bits", "2048"])
            duration = Date().timeIntervalSince(start)
            let reread = try info(home)
            return again.status == 0 && reread.status == 0 ? .old : .broken
        }
        print("platform init killed 20 times: \(kills.summary)")
        #expect(kills.runs(in: .broken).isEmpty, "\(kills.runs(in: .broken))")
    }

    @Test("platform tcb, killed 60 times: the level before or the level after, the home always readable")
    func tcbUpdate() throws {
        let directory = try TestEnvironment.temporaryDirectory("kill-tcb")
        defer { try? FileManager.default.removeItem(at: directory) }
        let home = directory.appendingPathComponent("home").path
        _ = try timed(["platform", "init", "--home", home, "--amd-key-bits", "2048"])
        let duration = try timed(["platform", "tcb", "--level", "2", "--home", home])
        var level = 2
        let kills = try killAnywhere(runs: 60, duration: { duration }) {
            ["platform", "tcb", "--level", "\(level + 1)", "--home", home]
        } classify: { exitStatus in
            let read = try info(home)
            guard read.status == 0, let now = read.json?["tcb_level"] as? Int else { return .broken }
            defer { level = now }
            // A run that ended before its kill ended well, at the level after.
            if let exitStatus { return exitStatus == 0 && now == level + 1 ? .new : .broken }
            return now == level ? .old : now == level + 1 ? .new : .broken
        }
        print("platform tcb killed 60 times: \(kills.summary)")
        #expect(kills.runs(in: .broken).isEmpty, "\(kills.runs(in: .broken))")
    }
}
