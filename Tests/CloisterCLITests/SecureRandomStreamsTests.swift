import CloisterCrypto
import Synchronization
import Testing
import Threads

@testable import CloisterCLI

@Suite("The command line's random streams: one secret key, and no stream handed out twice")
struct SecureRandomStreamsTests {
    /// The first two words of `stream`, which tell streams apart: under one key, streams of two numbers begin with AES
    /// of two different counter blocks, which always differ; under two keys, they agree with probability 2⁻¹²⁸.
    static func opening(_ stream: KeyedRandomStream) -> [UInt64] {
        var stream = stream
        return [stream.next(), stream.next()]
    }

    @Test("4 threads asking at once for 4,000 streams, with the same index and with others, each get a fresh one")
    func neverTwice() throws {
        let streams = try SecureRandomStreams()
        let openings = Mutex<[[UInt64]]>([])
        let threads = try (0..<4).map { thread in
            try #require(
                POSIXThread {
                    let mine = (0..<1_000).map { Self.opening(streams.stream($0 % 2 == 0 ? 0 : thread)) }
                    openings.withLock { $0 += mine }
                })
        }
        for thread in threads { thread.join() }
        let all = openings.withLock { $0 }
        #expect(all.count == 4_000 && Set(all).count == 4_000, "\(4_000 - Set(all).count) streams repeated")
    }

    @Test("two runs' streams are under different keys: their first streams differ")
    func freshKeys() throws {
        let first = try SecureRandomStreams()
        let second = try SecureRandomStreams()
        #expect(Self.opening(first.stream(0)) != Self.opening(second.stream(0)))
    }
}
