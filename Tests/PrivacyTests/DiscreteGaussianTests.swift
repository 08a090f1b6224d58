import CloisterCrypto
import CloisterTestSupport
import Dispatch
import Foundation
import Synchronization
import Testing

@testable import Privacy

@Suite("Discrete Gaussian: exact samples of N_Z(0, σ²) in integer arithmetic, from blocks")
struct DiscreteGaussianTests {
    static let key = [UInt8](repeating: 1, count: 32)

    /// N_Z(0, a/b) drawing from a keyed stream.
    struct Sampler {
        let distribution: DiscreteGaussian
        var source: KeyedRandomStream

        mutating func next() -> Int64 { distribution.sample(using: &source) }
    }

    /// N_ℤ(0, a/b) from the keyed stream `stream`; with `tablePrecision`, its table's bounds that coarse.
    static func sampler(_ a: UInt64, _ b: UInt64, stream: UInt64 = 7, tablePrecision: Int? = nil) throws -> Sampler {
        let distribution =
            try tablePrecision.map {
                try DiscreteGaussian(varianceNumerator: a, varianceDenominator: b, tablePrecision: $0)
            } ?? DiscreteGaussian(varianceNumerator: a, varianceDenominator: b)
        return Sampler(distribution: distribution, source: try KeyedRandomStream(key: key, stream: stream))
    }

    /// P[X = x] ∝ exp(−x²/2σ²) over |x| ≤ 40σ + 40 (beyond, the mass is below 1e−300).
    static func mass(variance: Double) -> (range: ClosedRange<Int>, probability: [Double]) {
        let limit = Int((40 * variance.squareRoot()).rounded(.up)) + 40
        let weights = (-limit...limit).map { exp(-Double($0 * $0) / (2 * variance)) }
        let total = weights.reduce(0, +)
        return (-limit...limit, weights.map { $0 / total })
    }

    /// The upper 1e−6 quantile of χ² with `degrees` degrees of freedom (Wilson–Hilferty).
    static func criticalValue(degrees: Int) -> Double {
        let k = Double(degrees)
        let z = 4.753  // Φ⁻¹(1 − 1e−6)
        let cube = 1 - 2 / (9 * k) + z * (2 / (9 * k)).squareRoot()
        return k * cube * cube * cube
    }

    @Test(
        "a million draws fit the exact mass (χ², p = 1e−6) and are symmetric, for σ from 0.5 to 1,000",
        arguments: [(UInt64(1), UInt64(4)), (2, 1), (9, 1), (1_000_000, 1)])
    func chiSquare(_ a: UInt64, _ b: UInt64) throws {
        try Self.fitsExactMass(try Self.sampler(a, b, stream: a &* 31 &+ b), draws: 1_000_000)
    }

    @Test(
        "with the table's bounds at 8 bits, so most blocks are settled by refining them, the draws still fit the exact mass",
        arguments: [(UInt64(9), UInt64(1), 40_000), (1_000_000, 1, 1_000)])
    func chiSquareRefined(_ a: UInt64, _ b: UInt64, draws: Int) throws {
        let sampler = try Self.sampler(a, b, stream: a &+ 99, tablePrecision: 8)
        let table = sampler.distribution.table
        // The share of words the coarse table leaves undecided, each sent to `exactBlock`.
        let undecided = zip(table.lower, table.upper).reduce(0.0) { $0 + (Double($1.1) - Double($1.0) + 1) / 0x1p64 }
        #expect(undecided > 0.5, "\(undecided) of the words reach the exact comparison")
        try Self.fitsExactMass(sampler, draws: draws)
    }

    /// χ² (p = 1e−6) of `draws` samples against N_ℤ(0, σ²)'s mass, and the split of signs.
    static func fitsExactMass(_ start: Sampler, draws: Int) throws {
        var sampler = start
        let variance = Double(sampler.distribution.varianceNumerator) / Double(sampler.distribution.varianceDenominator)
        let (range, probability) = Self.mass(variance: variance)
        var counts = [Int](repeating: 0, count: range.count)
        for _ in 0..<draws {
            let value = Int(sampler.next())
            try #require(range.contains(value), "a draw of \(value) for σ² = \(variance)")
            counts[value - range.lowerBound] += 1
        }
        // Bins of consecutive integers, each expecting at least 20 draws (the tails merged into their neighbours).
        var bins: [(observed: Double, expected: Double)] = []
        var current = (observed: 0.0, expected: 0.0)
        var remaining = Double(draws)
        for index in counts.indices {
            let expected = probability[index] * Double(draws)
            current = (current.observed + Double(counts[index]), current.expected + expected)
            remaining -= expected
            if current.expected >= 20 && remaining >= 20 {
                bins.append(current)
                current = (0, 0)
            }
        }
        bins.append(current)
        let statistic = bins.reduce(0) { $0 + ($1.observed - $1.expected) * ($1.observed - $1.expected) / $1.expected }
        #expect(bins.count > 3)
        #expect(
            statistic < Self.criticalValue(degrees: bins.count - 1),
            "χ² \(statistic) over \(bins.count) bins, σ² = \(variance)")
        // Symmetry: draws above 0 against draws below, a fair coin's split within 5 standard deviations.
        let zero = -range.lowerBound
        let positive = counts[(zero + 1)...].reduce(0, +)
        let negative = counts[..<zero].reduce(0, +)
        let spread = 5 * Double(positive + negative).squareRoot()
        #expect(Double(abs(positive - negative)) < spread, "\(positive) above 0, \(negative) below")
    }

    @Test(
        "known answers: the same words give the same samples as an independent Python implementation (decimal thresholds)",
        arguments: [(UInt64(1), UInt64(4)), (9, 1), (7, 3), (1_000, 1), (1_000_000, 1), (1 << 40, 1), (1 << 60, 3)])
    func knownAnswers(_ a: UInt64, _ b: UInt64) throws {
        let python = try #require(TestEnvironment.python, "set CLOISTER_PYTHON (make test does)")
        let count = 2_000
        let output = try runTool(
            python,
            [
                TestEnvironment.interopScript("discrete_gaussian.py"), "sample", "--key", hexString(Self.key),
                "--stream", "7", "--numerator", "\(a)", "--denominator", "\(b)", "--count", "\(count)",
            ])
        try #require(output.status == 0, "discrete_gaussian.py failed: \(output.standardError)")
        let theirs = output.standardOutput.split(separator: "\n").map { Int64($0) }
        var source = try KeyedRandomStream(key: Self.key, stream: 7)
        let ours = try DiscreteGaussian(varianceNumerator: a, varianceDenominator: b).samples(
            count: count, using: &source
        )
        .map { Optional($0) }
        #expect(ours == theirs, "σ² = \(a)/\(b)")
    }

    @Test("parameters whose arithmetic would leave 128 bits, and zero variances, are refused")
    func refusals() throws {
        for (a, b) in [(UInt64(0), UInt64(1)), (1, 0), (1, (1 << 32) + 1), (UInt64.max, 1), ((1 << 60) + 1, 1)] {
            #expect(throws: PrivacyError.self, "\(a)/\(b)") { _ = try Self.sampler(a, b) }
        }
        // σ = 2³⁰ still fits, and σ = 2⁻¹⁶.
        var large = try Self.sampler(1 << 60, 1)
        #expect((0..<100).map { _ in abs(large.next()) }.max()! < 1 << 34)
        var small = try Self.sampler(1, 1 << 32)
        #expect((0..<100).allSatisfy { _ in small.next() == 0 })
    }

    /// A source of words that counts them.
    struct CountingSource: RandomNumberGenerator {
        var inner: KeyedRandomStream
        var drawn = 0

        mutating func next() -> UInt64 {
            drawn += 1
            return inner.next()
        }
    }

    @Test(
        "the exact comparison agrees with the 128-bit table on every word both decide, over many rounds of refinement",
        arguments: [(UInt64(9), UInt64(1)), (1_000_000, 1), (1 << 40, 1)])
    func refinementAgrees(_ a: UInt64, _ b: UInt64) throws {
        let fine = BlockTable(varianceNumerator: a, varianceDenominator: b, precision: 128)
        let coarse = BlockTable(varianceNumerator: a, varianceDenominator: b, precision: 4)
        var words = try KeyedRandomStream(key: Self.key, stream: 41)
        var further = CountingSource(inner: try KeyedRandomStream(key: Self.key, stream: 42))
        var rounds = [Int: Int]()
        for _ in 0..<1_000 {
            let word = words.next()
            var block = fine.firstCandidate(for: word)
            while word > fine.upper[block] { block += 1 }
            try #require(word < fine.lower[block], "the 128-bit table decides word \(word)")
            let before = further.drawn
            let exact = try #require(coarse.exactBlock(word: word, from: 0, using: &further))
            #expect(exact == block, "word \(word): block \(exact), the fine table's \(block)")
            rounds[further.drawn - before, default: 0] += 1
        }
        // At 4 bits a round, words need several rounds, and not all the same number.
        #expect(rounds.keys.contains { $0 >= 3 } && rounds.count >= 2, "refinement rounds: \(rounds)")
    }

    /// A source whose words are all ones for `ones` words, then zeros: U = 1 − 2^(−64·ones) exactly.
    struct NearOne: RandomNumberGenerator {
        var ones: Int

        mutating func next() -> UInt64 {
            ones -= 1
            return ones >= 0 ? .max : 0
        }
    }

    @Test(
        "words of U close to 1 are decided into the blocks 1,024-bit bounds confirm, out past the table's last",
        arguments: [(UInt64(9), UInt64(1)), (1_000_000, 1)])
    func nearOne(_ a: UInt64, _ b: UInt64) throws {
        let table = BlockTable(varianceNumerator: a, varianceDenominator: b, precision: 128)
        var exact = CumulativeBounds(geometry: table.geometry, precision: 1_024)
        let z = exact.normaliser
        // Where the fast path hands the word 2⁶⁴ − 1 over.
        var start = table.firstCandidate(for: .max)
        while UInt64.max > table.upper[start] { start += 1 }
        var previous = 0
        for ones in 1...4 {
            var source = NearOne(ones: ones - 1)
            let block = try #require(table.exactBlock(word: .max, from: start, using: &source))
            // U = 1 − 2^(−64·ones): U < F_j ⇔ (2^(64·ones) − 1)·Z < C_j·2^(64·ones).
            let bits = 64 * ones
            let u = Natural.power(of2: bits) - Natural(1)
            let below = exact.cumulative(upTo: block)
            let above = exact.cumulative(upTo: block - 1)
            #expect(u * z.upper < below.lower.shiftedLeft(bits), "U below F_\(block), ones \(ones)")
            #expect(u * z.lower >= above.upper.shiftedLeft(bits), "U at or above F_\(block - 1), ones \(ones)")
            #expect(block > previous, "U closer to 1 lands further out")
            previous = block
        }
        #expect(previous > table.lower.count - 2, "the last block is past the table's end")
    }

    /// The words it is given, in order.
    struct Scripted: RandomNumberGenerator {
        var words: [UInt64]
        mutating func next() -> UInt64 { words.removeFirst() }
    }

    @Test("a block its 32 bits leave open is decided by the next half-word, not by the word's own low half")
    func blockOnHalves() throws {
        let table = BlockTable(varianceNumerator: 1 << 40, varianceDenominator: 1, precision: 128)
        let shift = UInt64(table.geometry.shift)
        // A block whose two bounds share their high halves, with room below and above them in the low halves.
        func suits(_ j: Int) -> Bool {
            let (lower, upper, previous): (UInt64, UInt64, UInt64) = (
                table.lower[j], table.upper[j], table.upper[j - 1]
            )
            let room: UInt64 = 1 << 20
            let shared = lower >> 32 == upper >> 32 && previous >> 32 < lower >> 32
            return shared && lower & 0xFFFF_FFFF > room && upper & 0xFFFF_FFFF < 0xFFFF_FFFF - room
        }
        let j = try #require((1..<(table.lower.count - 2)).first(where: suits))
        let top = table.upper[j] >> 32
        // The word's low half is 0: offset 0, sign +, so the keep draws nothing (its exponent is 0). Taken as U's next
        // bits, that 0 would put U below the block's lower bound: block j. The next word's low half decides instead.
        func draw(_ next: UInt64) -> (Int64, Int, RandomHalves) {
            var source = Scripted(words: [top << 32, next, 7])
            var halves = RandomHalves()
            let sample = DiscreteGaussian.sample(from: table, using: &source, &halves)
            return (sample, 3 - source.words.count, halves)
        }
        let (past, pastWords, pastHalves) = draw(0xABCD_0123 << 32 | 0xFFFF_FFFF)
        #expect(past == Int64(j + 1) << shift && pastWords == 2)
        #expect(pastHalves.hasSpare && pastHalves.spare == 0xABCD_0123, "the next word's high half is left over")
        let (below, belowWords, _) = draw(0x0000_0001)
        #expect(below == Int64(j) << shift && belowWords == 2)
    }

    @Test(
        "Bernoulli(n/d): 32 bits decide it against n/d's first base-2³² digit; on a tie, the next 32 against the next")
    func bernoulliTie() {
        // 1/3: every base-2³² digit is ⌊2³²/3⌋ = 0x5555_5555 (remainder 1 each time). Half-words: low, then high.
        let digit: UInt64 = 0x5555_5555
        func trial(_ n: UInt64, _ d: UInt64, _ words: [UInt64]) -> (Bool, Int) {
            var source = Scripted(words: words + [9])
            var halves = RandomHalves()
            let kept = DiscreteGaussian.bernoulli(n, over: d, &source, &halves)
            return (kept, words.count + 1 - source.words.count)
        }
        #expect(trial(1, 3, [digit - 1]) == (true, 1))
        #expect(trial(1, 3, [digit + 1]) == (false, 1))
        // Tied: the word's high half is the next digit's rival.
        #expect(trial(1, 3, [(digit - 1) << 32 | digit]) == (true, 1))
        #expect(trial(1, 3, [(digit + 1) << 32 | digit]) == (false, 1))
        // Tied twice: the next word's low half decides.
        #expect(trial(1, 3, [digit << 32 | digit, 0]) == (true, 2))
        #expect(trial(1, 3, [digit << 32 | digit, 0xFFFF_FFFF]) == (false, 2))
        // d a power of two: 1/2's digit 2³¹ leaves no remainder, so 2³¹ − 1 is below (P + d = N exactly) and 2³¹ is
        // not, with no further draw.
        #expect(trial(1, 2, [1 << 31 - 1]) == (true, 1))
        #expect(trial(1, 2, [1 << 31]) == (false, 1))
        #expect(trial(1, 2, [0]) == (true, 1) && trial(1, 2, [0xFFFF_FFFF]) == (false, 1))
        // A digit far below: 5/7's first digit is 0xB6DB_6DB6.
        #expect(trial(5, 7, [3]) == (true, 1))
        #expect(trial(5, 7, [0xB6DB_6DB6 << 32 | 0xB6DB_6DB7]) == (false, 1))
        // The high half left over is the next trial's.
        var source = Scripted(words: [(digit + 1) << 32 | (digit - 1)])
        var halves = RandomHalves()
        #expect(DiscreteGaussian.bernoulli(1, over: 3, &source, &halves))
        #expect(!DiscreteGaussian.bernoulli(1, over: 3, &source, &halves) && source.words.isEmpty)
    }

    @Test(
        "Bernoulli(exp(−n/d)) keeps with probability e^(−n/d), for exponents below 1 and past it (the tail's keep)",
        arguments: [(UInt128(0), UInt64(1)), (1, 2), (1, 1), (5, 2), (7, 3)])
    func bernoulliExp(_ n: UInt128, _ d: UInt64) throws {
        var source = try KeyedRandomStream(key: Self.key, stream: 50 + UInt64(n) * 10 + d)
        var halves = RandomHalves()
        let draws = 200_000
        var kept = 0
        for _ in 0..<draws where DiscreteGaussian.bernoulliExp(numerator: n, denominator: d, &source, &halves) {
            kept += 1
        }
        let p = exp(-Double(n) / Double(d))
        let deviation = (p * (1 - p) / Double(draws)).squareRoot()
        #expect(abs(Double(kept) / Double(draws) - p) <= 5 * deviation + 1e-12, "e^(−\(n)/\(d)): kept \(kept)")
    }

    @Test("the bounds on e^(−p/q) hold it and close in as the precision grows, from x = 0 to past the precision")
    func exponentialBounds() throws {
        let cases: [(UInt128, UInt64)] = [(0, 1), (1, 1), (1, 3), (7, 2), (1_000, 999), (123_456_789, 1_000), (200, 1)]
        for (p, q) in cases {
            let x = Double(p) / Double(q)
            for precision in [16, 52, 64, 200] {
                let bounds = ExponentialBounds(precision: precision).of(numerator: p, denominator: q)
                try #require(bounds.lower <= bounds.upper)
                if precision == 52 && x < 30 {
                    // Double's exp is within a few units of 2⁻⁵³ relative: the bounds hold it to 2⁻⁴⁰.
                    let truth = exp(-x) * 0x1p52
                    let low = Self.double(bounds.lower), high = Self.double(bounds.upper)
                    #expect(low <= truth * (1 + 0x1p-40) && truth * (1 - 0x1p-40) <= high, "e^(−\(x)) at \(precision)")
                    #expect(high - low <= 64, "e^(−\(x)): width \(high - low) units at \(precision)")
                }
                if x >= Double(precision) {
                    #expect(bounds.lower.isZero && bounds.upper == Natural(1))
                }
            }
        }
    }

    static func double(_ value: Natural) -> Double {
        (0..<value.wordCount).reversed().reduce(0.0) { $0 * 0x1p64 + Double(value.word($1)) }
    }

    @Test("a table asked for by several threads at once is built once: each gets the same one")
    func sharedTableBuiltOnce() {
        // A variance no other test uses, so that the threads race for its first build.
        let a: UInt64 = 987_654_321_123
        let tables = Mutex<[ObjectIdentifier]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let table = BlockTable.shared(varianceNumerator: a, varianceDenominator: 3, precision: 128)
            tables.withLock { $0.append(ObjectIdentifier(table)) }
        }
        let built = tables.withLock { $0 }
        #expect(built.count == 8 && Set(built).count == 1)
    }

    @Test("the sampling code holds no floating point: a Double, a Float or a libm call put back fails this test")
    func integerOnly() throws {
        for file in ["DiscreteGaussian", "BlockTable", "ExponentialBounds", "Natural"] {
            let source = try String(
                contentsOf: TestEnvironment.packageRoot.appendingPathComponent("Sources/Privacy/\(file).swift"),
                encoding: .utf8)
            let code = source.split(separator: "\n").filter {
                !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//")
            }
            for token in ["Double", "Float", "exp(", "log(", "sqrt(", "squareRoot", "pow(", ".pi"] {
                let lines = code.filter { $0.contains(token) }
                #expect(lines.isEmpty, "\(token) on the sampling path in \(file).swift: \(lines)")
            }
            #expect(code.count > 40, "\(file).swift was read")
        }
    }
}
