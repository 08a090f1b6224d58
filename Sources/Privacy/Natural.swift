/// A natural number of any size in 64-bit words, least significant first: the arbitrary-precision arithmetic behind the
/// discrete Gaussian's exact comparisons (`ExponentialBounds`, `BlockTable`). Only what those need: sums, differences,
/// products, division by a word and shifts, each quotient or right shift rounded in a stated direction. No floating
/// point.
struct Natural: Comparable, Sendable {
    /// The words, least significant first, with no zero word at the top (zero has none).
    private(set) var words: [UInt64]

    init(_ value: UInt64) {
        words = value == 0 ? [] : [value]
    }

    init(words: [UInt64]) {
        self.words = words
        while self.words.last == 0 { self.words.removeLast() }
    }

    /// 2^`exponent`.
    static func power(of2 exponent: Int) -> Natural { Natural(1).shiftedLeft(exponent) }

    var isZero: Bool { words.isEmpty }

    /// The number of bits up to the highest set one (0 for zero).
    var bitWidth: Int { words.last.map { words.count * 64 - $0.leadingZeroBitCount } ?? 0 }

    private func word(_ index: Int) -> UInt64 { index < words.count ? words[index] : 0 }

    static func + (left: Natural, right: Natural) -> Natural {
        let count = max(left.words.count, right.words.count)
        var result = [UInt64]()
        result.reserveCapacity(count + 1)
        var carry: UInt64 = 0
        for index in 0..<count {
            let (partial, first) = left.word(index).addingReportingOverflow(right.word(index))
            let (sum, second) = partial.addingReportingOverflow(carry)
            result.append(sum)
            carry = first || second ? 1 : 0
        }
        result.append(carry)
        return Natural(words: result)
    }

    /// left − right, for left ≥ right.
    static func - (left: Natural, right: Natural) -> Natural {
        precondition(left >= right, "a natural difference needs left ≥ right")
        var result = [UInt64]()
        result.reserveCapacity(left.words.count)
        var borrow: UInt64 = 0
        for index in 0..<left.words.count {
            let (partial, first) = left.words[index].subtractingReportingOverflow(right.word(index))
            let (difference, second) = partial.subtractingReportingOverflow(borrow)
            result.append(difference)
            borrow = first || second ? 1 : 0
        }
        return Natural(words: result)
    }

    /// left − right, or 0 when right is the larger.
    func subtractingSaturated(_ other: Natural) -> Natural { self >= other ? self - other : Natural(0) }

    static func * (left: Natural, right: Natural) -> Natural {
        guard !left.isZero, !right.isZero else { return Natural(0) }
        var result = [UInt64](repeating: 0, count: left.words.count + right.words.count)
        for (i, x) in left.words.enumerated() {
            var carry: UInt64 = 0
            for (j, y) in right.words.enumerated() {
                let (high, low) = x.multipliedFullWidth(by: y)
                let (sum, first) = result[i + j].addingReportingOverflow(low)
                let (total, second) = sum.addingReportingOverflow(carry)
                result[i + j] = total
                // high ≤ 2⁶⁴ − 2, so the carry stays within a word.
                carry = high &+ (first ? 1 : 0) &+ (second ? 1 : 0)
            }
            result[i + right.words.count] = carry
        }
        return Natural(words: result)
    }

    /// ⌊self / divisor⌋, or ⌈self / divisor⌉ when `roundingUp`.
    func divided(by divisor: UInt64, roundingUp: Bool) -> Natural {
        precondition(divisor > 0, "division by zero")
        var quotient = [UInt64](repeating: 0, count: words.count)
        var remainder: UInt64 = 0
        for index in words.indices.reversed() {
            (quotient[index], remainder) = divisor.dividingFullWidth((remainder, words[index]))
        }
        let result = Natural(words: quotient)
        return roundingUp && remainder != 0 ? result + Natural(1) : result
    }

    func shiftedLeft(_ bits: Int) -> Natural {
        guard !isZero, bits > 0 else { return self }
        let (wordShift, bitShift) = bits.quotientAndRemainder(dividingBy: 64)
        var result = [UInt64](repeating: 0, count: wordShift)
        result.reserveCapacity(wordShift + words.count + 1)
        var spill: UInt64 = 0
        for word in words {
            result.append(bitShift == 0 ? word : word << UInt64(bitShift) | spill)
            spill = bitShift == 0 ? 0 : word >> UInt64(64 - bitShift)
        }
        result.append(spill)
        return Natural(words: result)
    }

    /// ⌊self / 2^bits⌋, or ⌈self / 2^bits⌉ when `roundingUp`.
    func shiftedRight(_ bits: Int, roundingUp: Bool) -> Natural {
        guard bits > 0 else { return self }
        let (wordShift, bitShift) = bits.quotientAndRemainder(dividingBy: 64)
        var dropped = words.prefix(min(wordShift, words.count)).contains { $0 != 0 }
        guard wordShift < words.count else { return Natural(roundingUp && dropped ? 1 : 0) }
        var result = [UInt64]()
        result.reserveCapacity(words.count - wordShift)
        for index in wordShift..<words.count {
            let high = index + 1 < words.count ? words[index + 1] : 0
            result.append(
                bitShift == 0 ? words[index] : words[index] >> UInt64(bitShift) | high << UInt64(64 - bitShift))
        }
        if bitShift > 0 { dropped = dropped || words[wordShift] << UInt64(64 - bitShift) != 0 }
        let quotient = Natural(words: result)
        return roundingUp && dropped ? quotient + Natural(1) : quotient
    }

    static func < (left: Natural, right: Natural) -> Bool {
        guard left.words.count == right.words.count else { return left.words.count < right.words.count }
        for index in left.words.indices.reversed() where left.words[index] != right.words[index] {
            return left.words[index] < right.words[index]
        }
        return false
    }
}
