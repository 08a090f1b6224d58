import CloisterTestSupport
import Foundation
import Testing

/// What a platform home reads as after a kill: the state before the operation, the state after it, or neither.
private enum KilledState: String, CaseIterable {
    case old, new, broken
}

/// Runs `arguments` of `cloister` and SIGKILLs it after a delay drawn uniformly from zero to a little past the time an
/// uninterrupted run takes now (`duration`, which `classify` may update from a run it makes), `runs` times; `classify`
/// reads the home after each kill. Returns the count per state and the details of every broken one. Which states
/// occur depends on the machine's load; none may be broken.
private func killAnywhere(
    runs: Int, duration: () -> TimeInterval, _ arguments: () -> [String], classify: () throws -> KilledState
) throws -> (counts: [KilledState: Int], broken: [String]) {
    var counts: [KilledState: Int] = [:]
    var broken: [String] = []
    var random = SystemRandomNumberGenerator()
    for run in 0..<runs {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cloisterExecutable)
        process.arguments = arguments()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let delay = Double.random(in: 0...(duration() * 1.2), using: &random)
        try process.run()
        usleep(useconds_t(delay * 1_000_000))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let state = try classify()
        counts[state, default: 0] += 1
        if state == .broken { broken.append("run \(run), killed after \(Int(delay * 1000)) ms") }
    }
    return (counts, broken)
}

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
        let result = try killAnywhere(runs: 20, duration: { duration }) {
            index += 1
            home = directory.appendingPathComponent("home-\(index)").path
            return ["platform", "init", "--home", home, "--amd-key-bits", "2048"]
        } classify: {
            let read = try info(home)
            if read.status == 0, read.json?["platform_id"] is String { return .new }
            // No platform: the interrupted init must leave nothing that stops the next one.
            guard read.status == 78 else { return .broken }
            // Timed, so that the next kill's window follows the machine's load.
            let start = Date()
            let again = try runTool(cloisterExecutable, ["platform", "init", "--home", home, "--amd-key-bits", "2048"])
            duration = Date().timeIntervalSince(start)
            let reread = try info(home)
            return again.status == 0 && reread.status == 0 ? .old : .broken
        }
        print("platform init: \(result.counts.map { "\($0.key.rawValue) \($0.value)" }.sorted())")
        #expect(result.broken.isEmpty, "\(result.broken)")
    }

    @Test("platform tcb, killed 60 times: the level before or the level after, the home always readable")
    func tcbUpdate() throws {
        let directory = try TestEnvironment.temporaryDirectory("kill-tcb")
        defer { try? FileManager.default.removeItem(at: directory) }
        let home = directory.appendingPathComponent("home").path
        _ = try timed(["platform", "init", "--home", home, "--amd-key-bits", "2048"])
        let duration = try timed(["platform", "tcb", "--level", "2", "--home", home])
        var level = 2
        let result = try killAnywhere(runs: 60, duration: { duration }) {
            ["platform", "tcb", "--level", "\(level + 1)", "--home", home]
        } classify: {
            let read = try info(home)
            guard read.status == 0, let now = read.json?["tcb_level"] as? Int else { return .broken }
            defer { level = now }
            return now == level ? .old : now == level + 1 ? .new : .broken
        }
        print("platform tcb: \(result.counts.map { "\($0.key.rawValue) \($0.value)" }.sorted())")
        #expect(result.broken.isEmpty, "\(result.broken)")
    }
}
