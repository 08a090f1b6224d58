import Glibc
import Privacy
import Synchronization
import Testing
import Threads

@testable import Learning

@Suite("A step's noise drawn beside its gradients: the same samples whichever thread draws them")
struct StepNoiseTests {
    /// Streams that are a function of their number (a test's stand-in for keyed streams).
    struct SeededStreams: RandomStreams {
        let seed: UInt64
        func stream(_ index: Int) -> SplitMix64 { SplitMix64(seed: seed &+ 0x9E37_79B9 &* UInt64(index + 1)) }
    }

    static let mechanism = Result { try DiscreteGaussianMechanism(clip: 1, noiseMultiplier: 1.1) }

    @Test("a large release: chunk c from stream c, nothing from the step's source; the same on every draw")
    func chunksFromStreams() throws {
        let mechanism = try Self.mechanism.get()
        for count in [StepNoise.chunk / 4, 2 * StepNoise.chunk + 5] {
            let streams = SeededStreams(seed: UInt64(count))
            let expected = stride(from: 0, to: count, by: StepNoise.chunk).enumerated().flatMap { index, start in
                var stream = streams.stream(index)
                return mechanism.drawNoise(count: min(StepNoise.chunk, count - start), using: &stream)
            }
            // Draws from several threads at once, so that the noise thread and the steps' threads share the chunks in
            // different ways.
            let draws = Mutex<[[Int64]]>([])
            let threads = (0..<4).map { _ in
                POSIXThread {
                    for _ in 0..<5 {
                        var random = SplitMix64(seed: 9)
                        var untouched = SplitMix64(seed: 9)
                        let noise = StepNoise(mechanism: mechanism, count: count, streams: streams, orFrom: &random)
                        let values = noise.withValues(Array.init)
                        #expect(noise.withValues(Array.init) == values, "read again, the same noise at once")
                        #expect(random.next() == untouched.next(), "the step's source is untouched")
                        draws.withLock { $0.append(values) }
                    }
                }!
            }
            for thread in threads { thread.join() }
            let (drawn, same) = draws.withLock { ($0.count, $0.allSatisfy { $0 == expected }) }
            #expect(drawn == 20 && same, "count \(count): \(drawn) draws")
        }
    }

    @Test("a small release draws from the step's source at once")
    func smallReleaseFromTheSource() throws {
        let mechanism = try Self.mechanism.get()
        let count = StepNoise.chunk / 4 - 1
        var random = SplitMix64(seed: 3)
        var replay = SplitMix64(seed: 3)
        let noise = StepNoise(mechanism: mechanism, count: count, streams: SeededStreams(seed: 1), orFrom: &random)
        let same = noise.withValues(Array.init) == mechanism.drawNoise(count: count, using: &replay)
        #expect(same)
    }
}
