import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Glibc
import Testing

/// Every change of the platform is atomic as a whole: `cloister platform init`, `tcb` and `revoke` are killed (by
/// strace's fault injection) at each rename they make and at the first removal after the switch, and every home left
/// behind opens as the old platform or the new one, and takes the change again.
@Suite("Platform changes survive a kill at every rename (generations)")
struct PlatformGenerationTests {
    static let cloister = TestEnvironment.productsDirectory + "/cloister"
    static let strace = ["/usr/bin/strace", "/bin/strace"].first { (path: String) in access(path, X_OK) == 0 }

    /// What one kill left: whether the change had taken effect.
    enum Outcome: Hashable {
        case old, new
    }

    /// Runs `arguments` under strace, killed at the `index`-th call of `syscalls`; true when the kill happened.
    static func run(_ arguments: [String], killingAt index: Int, of syscalls: String) throws -> Bool {
        let output = try runTool(
            try #require(strace),
            [
                "-f", "-qq", "-o", "/dev/null", "-e", "trace=\(syscalls)", "-e",
                "inject=\(syscalls):signal=KILL:when=\(index)", cloister,
            ] + arguments)
        return output.status != 0
    }

    /// Kills `arguments` at every rename, then once after the switch (at the old generation's first unlink), making a
    /// fresh home with `prepare` each time; `check` says which platform the home holds. Returns the outcomes seen.
    static func killEverywhere(
        _ arguments: (String) -> [String], prepare: (PlatformHome) throws -> Void,
        check: (PlatformHome) throws -> Outcome
    ) throws -> [Outcome] {
        let killPoints = (1...40).map { ("rename,renameat,renameat2", $0) } + [("unlink,unlinkat", 1)]
        var outcomes: [Outcome] = []
        var renamesExhausted = false
        for (syscalls, index) in killPoints where !(renamesExhausted && syscalls.hasPrefix("rename")) {
            let directory = try TestEnvironment.temporaryDirectory("generations")
            let home = PlatformHome(path: directory.appendingPathComponent("home").path)
            try prepare(home)
            guard try run(arguments(home.path), killingAt: index, of: syscalls) else {
                #expect(syscalls.hasPrefix("rename"), "the change removed no old generation")
                renamesExhausted = true
                continue
            }
            let outcome = try check(home)
            outcomes.append(outcome)
            if syscalls.hasPrefix("unlink") { #expect(outcome == .new, "killed after the switch") }
            let again = try runTool(cloister, arguments(home.path))
            #expect(again.status == 0, "after a kill at \(syscalls) #\(index): \(again.standardError)")
            #expect(try check(home) == .new, "the change taken again after a kill at \(syscalls) #\(index)")
            let entries = try FileManager.default.contentsOfDirectory(atPath: home.path)
            #expect(entries.filter { $0.hasPrefix("generation-") }.count == 1, "\(entries)")
            #expect(!entries.contains { $0.hasPrefix(".tmp-") }, "\(entries)")
        }
        let label = arguments("HOME").prefix(while: { $0 != "--home" }).joined(separator: " ")
        print(
            "kill test: \(label) killed at \(outcomes.count) points: \(outcomes.filter { $0 == .old }.count) left the "
                + "old platform, \(outcomes.filter { $0 == .new }.count) the new one")
        return outcomes
    }

    @Test(
        "platform tcb: killed at any of its renames, the home holds TCB level 1 or 2 and moves to 2 when rerun",
        .enabled(if: strace != nil, "needs strace (apt-get install strace)"))
    func tcb() throws {
        let outcomes = try Self.killEverywhere(
            { ["platform", "tcb", "--level", "2", "--home", $0] },
            prepare: { try Platform.initialize(home: $0, amdKeyBits: 2048) },
            check: { home in
                let platform = try Platform(opening: home)
                try #require([1, 2].contains(platform.tcbLevel))
                return platform.tcbLevel == 2 ? .new : .old
            })
        #expect(outcomes.count >= 11, "kill points tried: \(outcomes.count)")
        #expect(Set(outcomes) == [.old, .new], "states found: \(outcomes)")
    }

    @Test(
        "platform revoke: killed at any of its renames, the home is revoked or not, never broken",
        .enabled(if: strace != nil, "needs strace (apt-get install strace)"))
    func revoke() throws {
        let outcomes = try Self.killEverywhere(
            { ["platform", "revoke", "--home", $0] },
            prepare: { try Platform.initialize(home: $0, amdKeyBits: 2048) },
            check: { try Platform(opening: $0).isRevoked ? .new : .old })
        #expect(outcomes.count >= 11, "kill points tried: \(outcomes.count)")
        #expect(Set(outcomes) == [.old, .new], "states found: \(outcomes)")
    }

    @Test(
        "platform init: killed at any of its renames, the home holds no platform or a whole one, and init works again",
        .enabled(if: strace != nil, "needs strace (apt-get install strace)"))
    func initialize() throws {
        var outcomes: [Outcome] = []
        for index in 1...40 {
            let directory = try TestEnvironment.temporaryDirectory("generations")
            let home = PlatformHome(path: directory.appendingPathComponent("home").path)
            guard
                try Self.run(
                    ["platform", "init", "--amd-key-bits", "2048", "--home", home.path], killingAt: index,
                    of: "rename,renameat,renameat2")
            else { break }
            if home.isInitialized {
                outcomes.append(.new)
                _ = try Platform(opening: home)
            } else {
                outcomes.append(.old)
                let again = try runTool(
                    Self.cloister, ["platform", "init", "--amd-key-bits", "2048", "--home", home.path])
                #expect(again.status == 0, "after a kill at rename #\(index): \(again.standardError)")
                _ = try Platform(opening: home)
            }
        }
        print(
            "kill test: platform init killed at \(outcomes.count) points: \(outcomes.filter { $0 == .old }.count) left no platform"
        )
        #expect(outcomes.count >= 11, "kill points tried: \(outcomes.count)")
        #expect(outcomes.contains(.old))
    }

    @Test("a generation left by a killed change is removed by the next change, and readers never see it")
    func staleGenerationRemoved() throws {
        let directory = try TestEnvironment.temporaryDirectory("generations")
        let home = PlatformHome(path: directory.appendingPathComponent("home").path)
        try Platform.initialize(home: home, amdKeyBits: 2048)
        let stale = home.path + "/generation-2"
        #expect(mkdir(stale, 0o700) == 0)
        #expect(
            FileManager.default.createFile(
                atPath: stale + "/platform.pem", contents: Data("junk".utf8), attributes: [.posixPermissions: 0o600]))
        #expect(try Platform(opening: home).tcbLevel == 1)
        try Platform.setTCBLevel(3, home: home)
        #expect(try Platform(opening: home).tcbLevel == 3)
        let entries = try FileManager.default.contentsOfDirectory(atPath: home.path).sorted()
        #expect(entries == ["counters", "current", "generation-2"])
        #expect(try String(contentsOfFile: home.path + "/generation-2/platform.pem", encoding: .utf8) != "junk")
    }

    @Test("a home in the layout before generations is refused with what to do")
    func earlierLayout() throws {
        let directory = try TestEnvironment.temporaryDirectory("generations")
        let home = PlatformHome(path: directory.appendingPathComponent("home").path)
        #expect(mkdir(home.path, 0o700) == 0)
        #expect(FileManager.default.createFile(atPath: home.path + "/platform.cbor", contents: Data([0xa0])))
        let error = try #require(throws: PlatformError.self) { try Platform.initialize(home: home, amdKeyBits: 2048) }
        #expect(error.reason.contains("earlier Cloister") && error.reason.contains("platform init"))
    }
}
