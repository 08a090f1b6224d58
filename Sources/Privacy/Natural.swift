/// A natural number of any size in 64-bit words, least significant first: the arbitrary-precision arithmetic behind the
/// discrete Gaussian's exact comparisons (`ExponentialBounds`, `BlockTable`). Only what those need: sums, differences,
/// products, division by a word and shifts, each quotient or right shift rounded in a stated direction. No floating
/// point.
///
/// Up to eight words (512 bits) are held inline, and an operation whose working words (a sum's longer operand and a
/// carry, a product's two lengths together, a left shift's length and shift and a spill) are at most eight allocates
/// nothing: that covers every operation of a table's build at 128 bits, whose numbers are at most three words and
/// their products six. A longer number, which only the rare refinements past 128 bits and the tests' coarse tables
/// make, keeps its words on the heap. (With every number an array, allocating at each operation, a table at σ = 2²⁰
/// took 0.69 ms to build, mostly in allocation and reference counting; inline, 0.31.)
struct Natural: Comparable, Sendable {
    /// How many words are held inline.
    static let inlineCapacity = 8
    /// The words while there are at most `inlineCapacity`; past `wordCount` they are unused.
    private var inlineWords = InlineArray<8, UInt64>(repeating: 0)
    /// The words when there are more, and nil otherwise.
    private var heapWords: [UInt64]?
    /// The number of words, with no zero word at the top (zero has none).
    private(set) var wordCount = 0

    init(_ value: UInt64) {
        if value != 0 {
            inlineWords[0] = value
            wordCount = 1
        }
    }

    /// The natural whose words `write` puts in `capacity` zeroed words, least significant first; zero words it leaves
    /// at the top are dropped.
    private init(capacity: Int, _ write: (UnsafeMutableBufferPointer<UInt64>) -> Void) {
        if capacity <= Self.inlineCapacity {
            var span = inlineWords.mutableSpan
            span.withUnsafeMutableBufferPointer { write(UnsafeMutableBufferPointer(rebasing: $0[..<capacity])) }
            var count = capacity
            while count > 0 && inlineWords[count - 1] == 0 { count -= 1 }
            wordCount = count
            return
        }
        var words = [UInt64](repeating: 0, count: capacity)
        words.withUnsafeMutableBufferPointer { write($0) }
        while words.last == 0 { words.removeLast() }
        wordCount = words.count
        if words.count > Self.inlineCapacity {
            heapWords = words
        } else {
            for index in words.indices { inlineWords[index] = words[index] }
        }
    }

    /// Calls `read` with the words, least significant first, with no zero word at the top.
    private func withWords<Result>(_ read: (UnsafeBufferPointer<UInt64>) -> Result) -> Result {
        if let heapWords { return heapWords.withUnsafeBufferPointer(read) }
        return inlineWords.span.withUnsafeBufferPointer { read(UnsafeBufferPointer(rebasing: $0[..<wordCount])) }
    }

    /// 2^`exponent`.
    static func power(of2 exponent: Int) -> Natural {
        precondition(exponent >= 0, "a power of two needs a natural exponent")
        let (index, bit) = exponent.quotientAndRemainder(dividingBy: 64)
        return Natural(capacity: index + 1) { $0[index] = 1 << UInt64(bit) }
    }

    var isZero: Bool { wordCount == 0 }

    /// The word at `index`, least significant first; zero past the top.
    func word(_ index: Int) -> UInt64 {
        guard index < wordCount else { return 0 }
        return heapWords?[index] ?? inlineWords[index]
    }

    /// The number of bits up to the highest set one (0 for zero).
    var bitWidth: Int { isZero ? 0 : wordCount * 64 - word(wordCount - 1).leadingZeroBitCount }

    static func + (left: Natural, right: Natural) -> Natural {
        left.withWords { x in
            right.withWords { y in
                Natural(capacity: max(x.count, y.count) + 1) { sum in
                    var carry: UInt64 = 0
                    for index in 0..<sum.count - 1 {
                        let (partial, first) = (index < x.count ? x[index] : 0).addingReportingOverflow(
                            index < y.count ? y[index] : 0)
                        let (total, second) = partial.addingReportingOverflow(carry)
                        sum[index] = total
                        carry = first || second ? 1 : 0
                    }
                    sum[sum.count - 1] = carry
                }
            }
        }
    }

    /// left − right, for left ≥ right.
    static func - (left: Natural, right: Natural) -> Natural {
        precondition(left >= right, "a natural difference needs left ≥ right")
        return left.withWords { x in
            right.withWords { y in
                Natural(capacity: x.count) { difference in
                    var borrow: UInt64 = 0
                    for index in 0..<x.count {
                        let (partial, first) = x[index].subtractingReportingOverflow(index < y.count ? y[index] : 0)
                        let (result, second) = partial.subtractingReportingOverflow(borrow)
                        difference[index] = result
                        borrow = first || second ? 1 : 0
                    }
                }
            }
        }
    }

    /// left − right, or 0 when right is the larger.
    func subtractingSaturated(_ other: Natural) -> Natural { self >= other ? self - other : Natural(0) }

    static func * (left: Natural, right: Natural) -> Natural {
        guard !left.isZero, !right.isZero else { return Natural(0) }
        return left.withWords { x in
            right.withWords { y in
                Natural(capacity: x.count + y.count) { product in
                    for i in 0..<x.count {
                        var carry: UInt64 = 0
                        for j in 0..<y.count {
                            let (high, low) = x[i].multipliedFullWidth(by: y[j])
                            let (sum, first) = product[i + j].addingReportingOverflow(low)
                            let (total, second) = sum.addingReportingOverflow(carry)
                            product[i + j] = total
                            // high ≤ 2⁶⁴ − 2, so the carry stays within a word.
                            carry = high &+ (first ? 1 : 0) &+ (second ? 1 : 0)
                        }
                        product[i + y.count] = carry
                    }
                }
            }
        }
    }

    /// ⌊self / divisor⌋, or ⌈self / divisor⌉ when `roundingUp`.
    func divided(by divisor: UInt64, roundingUp: Bool) -> Natural {
        precondition(divisor > 0, "division by zero")
        var remainder: UInt64 = 0
        let quotient = withWords { x in
            Natural(capacity: x.count) { quotient in
                for index in x.indices.reversed() {
                    (quotient[index], remainder) = divisor.dividingFullWidth((remainder, x[index]))
                }
            }
        }
        return roundingUp && remainder != 0 ? quotient + Natural(1) : quotient
    }

    func shiftedLeft(_ bits: Int) -> Natural {
        guard !isZero, bits > 0 else { return self }
        let (wordShift, bitShift) = bits.quotientAndRemainder(dividingBy: 64)
        return withWords { x in
            Natural(capacity: x.count + wordShift + 1) { shifted in
                var spill: UInt64 = 0
                for index in 0..<x.count {
                    shifted[wordShift + index] = bitShift == 0 ? x[index] : x[index] << UInt64(bitShift) | spill
                    spill = bitShift == 0 ? 0 : x[index] >> UInt64(64 - bitShift)
                }
                shifted[wordShift + x.count] = spill
            }
        }
    }

    /// ⌊self / 2^bits⌋, or ⌈self / 2^bits⌉ when `roundingUp`.
    func shiftedRight(_ bits: Int, roundingUp: Bool) -> Natural {
        guard bits > 0 else { return self }
        let (wordShift, bitShift) = bits.quotientAndRemainder(dividingBy: 64)
        var dropped = false
        let quotient = withWords { x in
            dropped = x.prefix(min(wordShift, x.count)).contains { $0 != 0 }
            guard wordShift < x.count else { return Natural(0) }
            if bitShift > 0 { dropped = dropped || x[wordShift] << UInt64(64 - bitShift) != 0 }
            return Natural(capacity: x.count - wordShift) { shifted in
                for index in wordShift..<x.count {
                    let high = index + 1 < x.count ? x[index + 1] : 0
                    shifted[index - wordShift] =
                        bitShift == 0 ? x[index] : x[index] >> UInt64(bitShift) | high << UInt64(64 - bitShift)
                }
            }
        }
        return roundingUp && dropped ? quotient + Natural(1) : quotient
    }

    static func == (left: Natural, right: Natural) -> Bool {
        left.withWords { x in right.withWords { y in x.elementsEqual(y) } }
    }

    static func < (left: Natural, right: Natural) -> Bool {
        guard left.wordCount == right.wordCount else { return left.wordCount < right.wordCount }
        return left.withWords { x in
            right.withWords { y in
                for index in x.indices.reversed() where x[index] != y[index] { return x[index] < y[index] }
                return false
            }
        }
    }
}
