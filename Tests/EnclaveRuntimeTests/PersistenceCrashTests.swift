import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import EnclaveSDK
import Foundation
import Testing

/// The writer side of the crash test. `PersistenceCrashTests` starts this test binary again with
/// `CLOISTER_PERSISTENCE_CRASH_PROBE` naming a state directory; the probe then persists sealed state and counter
/// increments in a loop until it is killed. In a normal run it is disabled.
@Suite struct PersistenceCrashProbe {
    static let directoryVariable = "CLOISTER_PERSISTENCE_CRASH_PROBE"
    static let counterVariable = "CLOISTER_PERSISTENCE_CRASH_COUNTER"
    static var directory: String? { ProcessInfo.processInfo.environment[directoryVariable] }

    /// The state sealed at counter value `value`: large enough that a kill often lands mid-write.
    static func payload(for value: UInt64) -> [UInt8] {
        let stamp = withUnsafeBytes(of: value.bigEndian, Array.init)
        return stamp + [UInt8](repeating: UInt8(truncatingIfNeeded: value), count: 256 * 1024)
    }

    /// Follows the rollback-safe order: persist the state stamped with the next value, then move the counter.
    @Test(.enabled(if: PersistenceCrashProbe.directory != nil)) func persistUntilKilled() throws {
        let directory = try #require(Self.directory)
        let id = bytes(fromHex: try #require(ProcessInfo.processInfo.environment[Self.counterVariable]))
        let identity = SealingFixtures.identity()
        let store = try MonotonicCounterStore(
            directory: directory + "/counters", authenticationKey: SealingFixtures.counterKey)
        try AtomicFile.removeStaleTemporaries(in: directory + "/data")
        let sealer = SealingFixtures.sealer(for: identity, counters: store)
        let state = AtomicFile(path: directory + "/data/state.sealed")
        var current = try store.read(id, for: identity).value
        var signalled = false
        while true {
            let next = current + 1
            try state.write(
                sealer.seal(
                    Self.payload(for: next), policy: .measurement, counter: MonotonicCounter(id: id, value: next)))
            current = try store.increment(id, for: identity).value
            if !signalled {
                try AtomicFile(path: directory + "/ready").write([])
                signalled = true
            }
        }
    }
}

@Suite struct PersistenceCrashTests {
    static let testBinary: String = {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return String(decoding: buffer[..<max(count, 0)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    @Test func sigkillDuringPersistenceLeavesTheLastGoodState() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let identity = SealingFixtures.identity()
        let counter = try MonotonicCounterStore(
            directory: directory + "/counters", authenticationKey: SealingFixtures.counterKey
        ).create(owner: identity)
        #expect(mkdir(directory + "/data", 0o700) == 0)
        var generator = SystemRandomNumberGenerator()
        var lastValue: UInt64 = 0
        var killsWithTemporaryLeft = 0
        // After each kill: the state sealed at the counter's value, or one ahead (written, the counter not yet moved).
        var stateAtCounter = 0
        var stateAhead = 0

        for round in 0..<20 {
            unlink(directory + "/ready")
            let child = Process()
            child.executableURL = URL(fileURLWithPath: Self.testBinary)
            child.arguments = ["--testing-library", "swift-testing", "--filter", "PersistenceCrashProbe"]
            child.environment = ProcessInfo.processInfo.environment.merging([
                PersistenceCrashProbe.directoryVariable: directory,
                PersistenceCrashProbe.counterVariable: hexString(counter.id),
            ]) { _, new in new }
            child.standardOutput = FileHandle.nullDevice
            child.standardError = FileHandle.nullDevice
            try child.run()
            let deadline = Date().addingTimeInterval(30)
            while access(directory + "/ready", F_OK) != 0 && child.isRunning && Date() < deadline {
                usleep(1000)
            }
            try #require(child.isRunning, "round \(round): the writer stopped before it was killed")
            usleep(UInt32.random(in: 5_000...50_000, using: &generator))
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            #expect(child.terminationReason == .uncaughtSignal && child.terminationStatus == SIGKILL)

            // At most the one write the kill interrupted has left a temporary file.
            let left =
                try SealingFixtures.temporaries(in: directory + "/counters")
                + SealingFixtures.temporaries(in: directory + "/data")
            #expect(left.count <= 1, "round \(round): \(left)")
            killsWithTemporaryLeft += left.isEmpty ? 0 : 1

            // Opening the store (and the data directory's owner) cleans them up.
            let store = try MonotonicCounterStore(
                directory: directory + "/counters", authenticationKey: SealingFixtures.counterKey)
            try AtomicFile.removeStaleTemporaries(in: directory + "/data")
            #expect(try SealingFixtures.temporaries(in: directory + "/counters").isEmpty)
            #expect(try SealingFixtures.temporaries(in: directory + "/data").isEmpty)

            let value = try store.read(counter.id, for: identity).value
            #expect(value > lastValue, "round \(round): counter went from \(lastValue) to \(value)")
            lastValue = value
            let sealer = SealingFixtures.sealer(for: identity, counters: store)
            let blob = try SealedBlob(encoded: AtomicFile(path: directory + "/data/state.sealed").read())
            let stamp = try #require(blob.counter).value
            #expect(stamp == value || stamp == value + 1, "round \(round): state at \(stamp), counter at \(value)")
            if stamp == value { stateAtCounter += 1 } else if stamp == value + 1 { stateAhead += 1 }
            #expect(try sealer.unseal(blob) == PersistenceCrashProbe.payload(for: stamp))
        }
        print(
            "crash test: counter reached \(lastValue); \(killsWithTemporaryLeft) of 20 kills interrupted a write; "
                + "the state at the counter's value after \(stateAtCounter), one ahead after \(stateAhead)")
    }
}
