import CloisterCrypto
import Testing

@testable import Privacy

@Suite("Poisson sampling: each record joins with probability exactly m/n, four records a word")
struct PoissonSamplingTests {
    /// Words from a keyed stream, counted.
    struct CountedWords: RandomNumberGenerator {
        var source: KeyedRandomStream
        var drawn = 0

        init(stream: UInt64) throws {
            source = try KeyedRandomStream(key: [UInt8](repeating: 3, count: 32), stream: stream)
        }

        mutating func next() -> UInt64 {
            drawn += 1
            return source.next()
        }
    }

    @Test(
        "the joined count is binomial at m/n, neighbours (which share a word) join independently",
        arguments: [(1, 3), (32, 455), (64, 1_437), (256, 4_000), (65_535, 65_537), (7, 1 << 20), (3, 4)])
    func rates(m: Int, n: Int) throws {
        var random = try CountedWords(stream: UInt64(n))
        let records = 400_000
        let joined = PoissonSampling.sample(records, rate: m, outOf: n, using: &random)
        let p = Double(m) / Double(n)
        let spread = (Double(records) * p * (1 - p)).squareRoot()
        #expect(abs(Double(joined.count) - Double(records) * p) < 5 * spread, "\(joined.count) of \(records)")
        #expect(joined == joined.sorted() && Set(joined).count == joined.count && joined.allSatisfy { $0 < records })
        // Pairs of neighbours both joined: (records − 1)·p² of them, about.
        let members = Set(joined)
        let pairs = joined.filter { members.contains($0 + 1) }.count
        let expected = Double(records - 1) * p * p
        #expect(abs(Double(pairs) - expected) < 5 * (expected * (1 - p * p)).squareRoot() + 1, "\(pairs) pairs")
        // A word a four records, and one more for a tie now and then (one record in 2¹⁶ ties).
        #expect(random.drawn <= records / 4 + 40, "\(random.drawn) words")
    }

    @Test("rates of 0 and 1: no record, every record")
    func certain() throws {
        var random = try CountedWords(stream: 1)
        #expect(PoissonSampling.sample(1_000, rate: 0, outOf: 17, using: &random).isEmpty)
        #expect(PoissonSampling.sample(1_000, rate: 17, outOf: 17, using: &random) == Array(0..<1_000))
        #expect(PoissonSampling.sample(0, rate: 1, outOf: 2, using: &random).isEmpty)
    }

    /// Every 16 bits of the first word equal to ⌊m·2¹⁶/n⌋, then keyed words.
    struct Tied: RandomNumberGenerator {
        let first: UInt64
        var rest: KeyedRandomStream
        var started = false

        mutating func next() -> UInt64 {
            defer { started = true }
            return started ? rest.next() : first
        }
    }

    @Test("a record whose 16 bits equal the threshold joins with probability r/n, from further words")
    func ties() throws {
        // 1/3: ⌊2¹⁶/3⌋ = 21845 with remainder 1, so a tied record joins with probability 1/3 (never, if a tie counted as
        // below; always, if it counted as above).
        let threshold: UInt64 = 21_845
        let word = threshold | threshold << 16 | threshold << 32 | threshold << 48
        var joined = 0
        let trials = 30_000
        for trial in 0..<trials {
            var random = Tied(
                first: word, rest: try KeyedRandomStream(key: [UInt8](repeating: 5, count: 32), stream: UInt64(trial)))
            joined += PoissonSampling.sample(4, rate: 1, outOf: 3, using: &random).count
        }
        let draws = Double(4 * trials)
        let spread = (draws * 2 / 9).squareRoot()
        #expect(abs(Double(joined) - draws / 3) < 5 * spread, "\(joined) of \(Int(draws))")
    }
}
