import CloisterCrypto
import CloisterTestSupport
import Testing

@testable import Privacy

@Suite("Natural: arbitrary-precision naturals, inline up to eight words and on the heap past them")
struct NaturalTests {
    /// A natural of `count` words drawn from `source`, each a random word or, one time in three, an edge word.
    static func natural(words count: Int, _ source: inout KeyedRandomStream) -> Natural {
        let edges: [UInt64] = [0, 1, .max, 1 << 63, .max - 1]
        var value = Natural(0)
        for _ in 0..<count {
            let word = source.next() % 3 == 0 ? edges[Int(source.next() % UInt64(edges.count))] : source.next()
            value = value.shiftedLeft(64) + Natural(word)
        }
        return value
    }

    static func hex(_ value: Natural) -> String {
        guard !value.isZero else { return "0" }
        let top = String(value.word(value.wordCount - 1), radix: 16)
        return (0..<value.wordCount - 1).reversed().reduce(top) {
            let word = String(value.word($1), radix: 16)
            return $0 + String(repeating: "0", count: 16 - word.count) + word
        }
    }

    @Test(
        "every operation agrees with Python's integers on 3,000 pairs of 0 to 12 words, across the inline and heap sizes"
    )
    func differential() throws {
        let python = try #require(TestEnvironment.python, "set CLOISTER_PYTHON (make test does)")
        var source = try KeyedRandomStream(key: [UInt8](repeating: 3, count: 32), stream: 1)
        var lines: [String] = []
        for _ in 0..<3_000 {
            let a = Self.natural(words: Int(source.next() % 13), &source)
            let b = source.next() % 8 == 0 ? a : Self.natural(words: Int(source.next() % 13), &source)
            let divisor = max(source.next() >> (source.next() % 64), 1)
            let shift = Int(source.next() % 900)
            let (larger, smaller) = a >= b ? (a, b) : (b, a)
            let fields: [Natural] = [
                a, b, Natural(divisor), Natural(UInt64(shift)), a + b, a * b, larger - smaller,
                a.subtractingSaturated(b), Natural(a < b ? 1 : 0), Natural(a == b ? 1 : 0),
                a.divided(by: divisor, roundingUp: false), a.divided(by: divisor, roundingUp: true),
                a.shiftedLeft(shift), a.shiftedRight(shift, roundingUp: false), a.shiftedRight(shift, roundingUp: true),
                Natural(UInt64(a.bitWidth)),
            ]
            lines.append(fields.map(Self.hex).joined(separator: " "))
            // A number that went through the heap and came back equals the same number held inline.
            #expect(a.shiftedLeft(shift).shiftedRight(shift, roundingUp: true) == a)
            #expect((a * b).shiftedLeft(600).shiftedRight(600, roundingUp: false) == a * b)
        }
        let output = try runTool(
            python, [TestEnvironment.interopScript("natural_arithmetic.py"), "check"],
            input: Array((lines.joined(separator: "\n") + "\n").utf8))
        #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
        #expect(output.standardOutput.hasPrefix("3000 lines agree"), "\(output.standardOutput)")
    }

    @Test("powers of two, word by word: the top word and the width, inline and on the heap")
    func powers() {
        for exponent in [0, 1, 63, 64, 65, 511, 512, 513, 1_000] {
            let power = Natural.power(of2: exponent)
            #expect(power.bitWidth == exponent + 1 && power.wordCount == exponent / 64 + 1)
            #expect(power.word(exponent / 64) == 1 << UInt64(exponent % 64))
            #expect((0..<exponent / 64).allSatisfy { power.word($0) == 0 })
            #expect(power - Natural(1) < power && !(power < power - Natural(1)))
        }
    }
}
