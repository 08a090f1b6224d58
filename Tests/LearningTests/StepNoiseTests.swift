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

    /// Streams each handed out once: stream n is the n-th asked for, whatever its index (as `SecureRandomStreams`' are
    /// fresh keys), counted.
    final class CountedStreams: RandomStreams {
        let handedOut = Atomic<Int>(0)
        func stream(_ index: Int) -> SplitMix64 {
            SplitMix64(seed: UInt64(handedOut.add(1, ordering: .sequentiallyConsistent).newValue))
        }
    }

    /// 64 rows of 120 features in 20 classes: a softmax model of 2,420 parameters, whose release is drawn in two
    /// chunks.
    static func wideData() throws -> (data: Dataset, model: Model, plan: DPSGDPlan) {
        let rows = (0..<64).map { row in
            ((0..<120).map { "\(Double(($0 * 7 + row * 13) % 31) / 31)" } + ["\(row % 20)"]).joined(separator: ",")
        }
        let header = ((0..<120).map { "x\($0)" } + ["label"]).joined(separator: ",")
        let data = try Dataset(csv: ([header] + rows).joined(separator: "\n"), label: "label")
        let plan = try DPSGDPlan(
            exampleCount: 64, batchSize: 16, epochs: 2, learningRate: 0.5, clip: 1, noiseMultiplier: 1.1, delta: 1e-3)
        return (data, try Model(kind: .softmax, featureCount: 120, classCount: 20), plan)
    }

    @Test("a step given noise drawn ahead releases it and draws none; one drawing ahead leaves the next step's")
    func stepTakesNoiseAhead() throws {
        let (data, model, plan) = try Self.wideData()
        let mechanism = try plan.stepMechanism(coordinates: model.parameters.count)
        var none: GradientCanaries?
        func step<Streams: RandomStreams>(
            streams: Streams, ahead: inout StepNoise?, drawingAhead: Bool = false
        ) -> DPSGD where Streams.Stream == SplitMix64 {
            var random = SplitMix64(seed: 1)
            var trainer = DPSGD(plan: plan, model: model)
            trainer.step(
                on: data, random: &random, noiseStreams: streams, canaries: &none, ahead: &ahead,
                drawingAhead: drawingAhead)
            return trainer
        }
        var nothing: StepNoise?
        let drawing = step(streams: SeededStreams(seed: 5), ahead: &nothing)
        let other = step(streams: SeededStreams(seed: 6), ahead: &nothing)
        let unused = CountedStreams()
        var ahead: StepNoise? = StepNoise(
            mechanism: mechanism, count: model.parameters.count, streams: SeededStreams(seed: 5))
        let given = step(streams: unused, ahead: &ahead)
        #expect(given == drawing && drawing != other, "the step released the noise it was given")
        #expect(ahead == nil && unused.handedOut.load(ordering: .sequentiallyConsistent) == 0, "and drew none")
        // Drawing ahead, the first of several steps leaves the next one's noise, of the release's coordinates, drawn
        // from fresh streams (on a machine with a step thread; none without).
        let counted = CountedStreams()
        var next: StepNoise?
        _ = step(streams: counted, ahead: &next, drawingAhead: true)
        #expect(next?.count == (StepThread.shared == nil ? nil : model.parameters.count))
    }

    @Test("train draws a step's noise ahead, in the step before it, and the model is the one its steps take one by one")
    func trainDrawsAhead() throws {
        let (data, model, plan) = try Self.wideData()
        let chunks = 2
        #expect(model.parameters.count > StepNoise.chunk && model.parameters.count <= chunks * StepNoise.chunk)
        // The same model as steps taken one at a time, which never draw ahead (every step here draws the same noise:
        // `stepTakesNoiseAhead` tells a step's noise from another's).
        let streams = SeededStreams(seed: 5)
        var random = SplitMix64(seed: 1)
        var trained = DPSGD(plan: plan, model: model)
        trained.train(on: data, random: &random, noiseStreams: streams)
        var stepRandom = SplitMix64(seed: 1)
        var stepped = DPSGD(plan: plan, model: model)
        var none: GradientCanaries?
        while !stepped.isFinished {
            stepped.step(on: data, random: &stepRandom, noiseStreams: streams, canaries: &none)
        }
        #expect(trained == stepped && trained.stepsTaken == plan.steps && plan.steps > 2)
        // Each step's chunks taken from fresh streams once: after step k, the step thread draws step k + 1's while
        // the step's thread waits here (on one core nothing is drawn ahead), and no step past the last is drawn.
        let counted = CountedStreams()
        var ahead = DPSGD(plan: plan, model: model)
        var aheadRandom = SplitMix64(seed: 1)
        var seen: [Int] = []
        ahead.train(on: data, random: &aheadRandom, noiseStreams: counted) { taken, steps in
            let wanted = (taken < steps && StepThread.shared != nil ? taken + 1 : taken) * chunks
            let deadline = ContinuousClock.now + .seconds(20)
            while counted.handedOut.load(ordering: .sequentiallyConsistent) < wanted && ContinuousClock.now < deadline {
                usleep(1_000)
            }
            seen.append(counted.handedOut.load(ordering: .sequentiallyConsistent))
        }
        let expected = (1...plan.steps).map { ($0 < plan.steps && StepThread.shared != nil ? $0 + 1 : $0) * chunks }
        #expect(seen == expected, "streams handed out after each step")
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
