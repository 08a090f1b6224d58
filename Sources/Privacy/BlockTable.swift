import Synchronization

/// The discrete Gaussian's blocks: the magnitudes 0, 1, 2, … cut into blocks of w = 2^s integers, block j holding
/// jw … jw + w − 1, where w is the largest power of two with σ/w ≥ 16 (w = 1 below σ = 32). `DiscreteGaussian` picks a
/// block j with probability e^(−x_j)/Z, x_j = (jw)²/2σ² and Z = Σ_j e^(−x_j), by comparing a uniform U ∈ [0, 1) with
/// the block's cumulative mass F_j = C_j/Z (C_j = Σ_{i ≤ j} e^(−x_i)): j is the first block with U < F_j.
///
/// The comparison is exact. F_j is transcendental, so it is known only between rigorous bounds (`ExponentialBounds`,
/// `CumulativeBounds`), and U only to the random bits drawn so far: a table of 64-bit thresholds decides U's first 64
/// bits against the bounds of every F_j (`lower`, `upper`), and where a word falls between a threshold's two bounds —
/// about once in 2⁵⁵ draws — `exactBlock` draws U's next 64 bits and recomputes the bounds finer by the table's
/// precision (128 bits), until the comparison is decided. Every decision is one the exact U and F_j make, so the block
/// has exactly the probability e^(−x_j)/Z. The one departure is a block past 2⁴⁶ (`maximumMagnitude`), whose
/// probability is below e^(−2³¹) and which is drawn again.
@usableFromInline
final class BlockTable: Sendable {
    @usableFromInline let geometry: BlockGeometry
    /// For each block j up to the table's end K (then a sentinel): a word v of U below `lower[j]` has U < F_j for
    /// certain, and a word above `upper[j]` has U ≥ F_j for certain.
    @usableFromInline let lower: [UInt64]
    @usableFromInline let upper: [UInt64]
    /// For each value g of a word's top `guideBits` bits: the first block whose `upper` is at least g·2^(64 − bits)
    /// (every block before it is passed for certain). (4,096 entries instead of 256 measured no faster.)
    @usableFromInline let guide: [UInt16]
    @usableFromInline static let guideBits = 8
    /// The bounds the thresholds came from, where `exactBlock` starts.
    let bounds: CumulativeBounds

    /// The table for N_ℤ(0, a/b), with bounds at `precision` bits (128 in use; the tests coarsen it so that the exact
    /// comparisons run often).
    init(varianceNumerator a: UInt64, varianceDenominator b: UInt64, precision: Int) {
        geometry = BlockGeometry(varianceNumerator: a, varianceDenominator: b)
        var bounds = CumulativeBounds(geometry: geometry, precision: precision)
        let normaliser = bounds.normaliser
        var lower: [UInt64] = []
        var upper: [UInt64] = []
        for block in 0...bounds.lastBlock {
            let cumulative = bounds.cumulative(upTo: block)
            // U < C/Z for every U in [v, v + 1)·2⁻⁶⁴ when (v + 1)·Z_high ≤ C_low·2⁶⁴; U ≥ C/Z when v·Z_low ≥ C_high·2⁶⁴.
            lower.append(Self.floorQuotient(cumulative.lower.shiftedLeft(64), normaliser.upper))
            upper.append(Self.floorQuotient(cumulative.upper.shiftedLeft(64) - Natural(1), normaliser.lower))
        }
        lower.append(0)
        upper.append(.max)
        self.lower = lower
        self.upper = upper
        guide = (0..<(1 << Self.guideBits)).map { top in
            UInt16(upper.firstIndex { $0 >= UInt64(top) << (64 - Self.guideBits) }!)
        }
        self.bounds = bounds
    }

    /// The table for N_ℤ(0, a/b) at `precision` bits, built once per process for each (the noise of a run has a
    /// handful of variances, and a mechanism is made for every round): a second thread asking for a table being built
    /// waits for it. At most 64 are kept, the oldest let go first. (A list, not a dictionary: the dictionary's first use looked its key's
    /// conformances up at run time, 0.3 ms of a first step.)
    @usableFromInline
    static func shared(varianceNumerator a: UInt64, varianceDenominator b: UInt64, precision: Int) -> BlockTable {
        let key = Key(numerator: a, denominator: b, precision: precision)
        let slot = cache.withLock { slots in
            if let slot = slots.first(where: { $0.key == key }) { return slot }
            if slots.count >= 64 { slots.removeFirst() }
            let slot = Slot(key: key)
            slots.append(slot)
            return slot
        }
        return slot.table.withLock { table in
            if let table { return table }
            let built = BlockTable(varianceNumerator: a, varianceDenominator: b, precision: precision)
            table = built
            return built
        }
    }

    private struct Key: Equatable {
        let numerator: UInt64
        let denominator: UInt64
        let precision: Int
    }

    /// A variance's table, built under its own lock by the first thread to ask.
    private final class Slot: Sendable {
        let key: Key
        let table = Mutex<BlockTable?>(nil)
        init(key: Key) { self.key = key }
    }

    private static let cache = Mutex<[Slot]>([])

    /// The first block U whose first 64 bits are `word` may fall in: every block before it is passed for certain.
    @inlinable
    func firstCandidate(for word: UInt64) -> Int {
        Int(guide[Int(word >> (64 - Self.guideBits))])
    }

    /// The block of U whose first 64 bits are `word`, every block before `start` passed for certain: U's further bits
    /// are drawn from `source` and the bounds refined until each comparison is decided. Nil for a block past
    /// `maximumMagnitude` (the departure above), to be drawn again.
    @usableFromInline
    func exactBlock<Source: RandomNumberGenerator>(word: UInt64, from start: Int, using source: inout Source) -> Int? {
        var revealed = Natural(word)
        var revealedBits = 64
        var bounds = bounds
        var block = start
        while true {
            let cumulative = bounds.cumulative(upTo: block)
            let normaliser = bounds.normaliser
            if (revealed + Natural(1)) * normaliser.upper <= cumulative.lower.shiftedLeft(revealedBits) {
                return block
            }
            if revealed * normaliser.lower >= cumulative.upper.shiftedLeft(revealedBits) {
                block += 1
                guard block < geometry.blockLimit else { return nil }
                continue
            }
            revealed = revealed.shiftedLeft(64) + Natural(source.next())
            revealedBits += 64
            bounds = CumulativeBounds(geometry: geometry, precision: bounds.precision + self.bounds.precision)
        }
    }

    /// min(⌊x/y⌋, 2⁶⁴ − 1) for y > 0: an upper bound from y's top 64 bits, (⌊x/2^t⌋ + 1)/⌊y/2^t⌋ with
    /// t = max(bits(y) − 64, 0), lowered while it is too large. With ⌊y/2^t⌋ ≥ 2⁶³ (or t = 0) the bound exceeds the
    /// quotient by at most 4, so the loop runs at most four times.
    private static func floorQuotient(_ x: Natural, _ y: Natural) -> UInt64 {
        let shift = max(y.bitWidth - 64, 0)
        let top = UInt128(y.shiftedRight(shift, roundingUp: false).word(0))
        let head = x.shiftedRight(shift, roundingUp: false)
        guard head.wordCount <= 2 else { return .max }
        let headValue = UInt128(head.word(0)) | UInt128(head.word(1)) << 64
        var quotient = min(headValue / top + 1, UInt128(UInt64.max))
        while Natural(UInt64(quotient)) * y > x { quotient -= 1 }
        return UInt64(quotient)
    }
}

/// The blocks of N_ℤ(0, a/b): their width 2^`shift`, and the last block K(P) that bounds at P bits sum over.
@usableFromInline
struct BlockGeometry: Sendable {
    @usableFromInline let varianceNumerator: UInt64
    @usableFromInline let varianceDenominator: UInt64
    @usableFromInline let shift: Int

    /// A magnitude past 2⁴⁶ is drawn again: its probability is below e^(−2⁹²/2⁶¹) = e^(−2³¹) for every variance
    /// accepted (σ² ≤ 2⁶⁰), and x_j's numerator, below 2⁹²·b ≤ 2¹²⁴, stays within 128 bits.
    static let maximumMagnitude: UInt64 = 1 << 46

    init(varianceNumerator a: UInt64, varianceDenominator b: UInt64) {
        varianceNumerator = a
        varianceDenominator = b
        // The largest s with (16·2^s)²·b ≤ a.
        var shift = 0
        while UInt128(1) << (2 * (shift + 1) + 8) * UInt128(b) <= UInt128(a) { shift += 1 }
        self.shift = shift
    }

    /// K(P): the first block with 10·(jw)²·b ≥ 14·a·(P + 8), that is x_j ≥ 0.7·(P + 8), so that e^(−x_j) ≤ 2^(−P−8)
    /// (ln 2 < 0.7). Bounds at P bits sum the masses up to it and bound the rest, so that Z's bounds close in as P grows:
    /// at 128 bits x_K ≥ 95.2, and the table's thresholds reach F_K > 1 − 2⁻¹³⁰.
    func lastBlock(precision: Int) -> Int {
        var last = 1
        let target = 14 * UInt128(varianceNumerator) * UInt128(precision + 8)
        while 10 * UInt128(UInt64(last) << shift) * UInt128(UInt64(last) << shift) * UInt128(varianceDenominator)
            < target
        {
            last += 1
        }
        return last
    }

    /// The first block past `maximumMagnitude`.
    var blockLimit: Int { Int(Self.maximumMagnitude >> UInt64(shift)) }

}

/// Bounds, at one precision, on the blocks' cumulative masses C_j = Σ_{i ≤ j} e^(−x_i) and on their total Z. The masses
/// come by recurrence, two products a block: e^(−x_{j+1}) = e^(−x_j)·r·ρ^j with r = e^(−w²b/2a) and ρ = r², since
/// x_{j+1} − x_j = (2j + 1)w²b/2a. Z is at least C_K and at most C_K plus a bound on the rest,
/// Σ_{j > K} e^(−x_j) ≤ e^(−x_{K+1})·(1 + 1/δ), since past K each x_j exceeds the last by at least
/// δ = (2K + 3)w²b/2a and 1/(1 − e^(−δ)) ≤ 1 + 1/δ. K grows with the precision (`BlockGeometry.lastBlock`), so the rest
/// is below 2^(−P) and Z's bounds, like every C_j's, close in as P grows: each comparison of U with F_j = C_j/Z is
/// eventually decided, for every block.
struct CumulativeBounds: Sendable {
    let geometry: BlockGeometry
    let precision: Int
    /// K: the bounds' masses are summed up to it, and bounded past it.
    let lastBlock: Int
    let normaliser: Enclosure
    private var cumulative: [Enclosure] = []
    /// The next block's mass, its ratio to the one after (r·ρ^j), and ρ.
    private var nextMass: Enclosure
    private var nextRatio: Enclosure
    private let ratioStep: Enclosure

    init(geometry: BlockGeometry, precision: Int) {
        self.geometry = geometry
        self.precision = precision
        let width = UInt128(1) << (2 * geometry.shift)
        let unit = ExponentialBounds(precision: precision).of(
            numerator: width * UInt128(geometry.varianceDenominator), denominator: 2 * geometry.varianceNumerator)
        let one = Natural.power(of2: precision)
        var (mass, ratio) = (Enclosure(lower: one, upper: one), unit)
        let ratioStep = unit.times(unit, precision: precision)
        let last = geometry.lastBlock(precision: precision)
        lastBlock = last
        var running = Enclosure(lower: Natural(0), upper: Natural(0))
        for _ in 0...last {
            running = running + Self.advance(&mass, &ratio, ratioStep, precision)
            cumulative.append(running)
        }
        (nextMass, nextRatio, self.ratioStep) = (mass, ratio, ratioStep)
        let step = UInt128(2 * last + 3) * width * UInt128(geometry.varianceDenominator)
        let reciprocal = (UInt128(2 * geometry.varianceNumerator) + step - 1) / step
        normaliser = Enclosure(
            lower: running.lower, upper: running.upper + nextMass.upper * Natural(UInt64(reciprocal) + 1))
    }

    /// Bounds on C_j, extended past the table's end as far as `block` asks.
    mutating func cumulative(upTo block: Int) -> Enclosure {
        while cumulative.count <= block {
            cumulative.append(
                cumulative[cumulative.count - 1] + Self.advance(&nextMass, &nextRatio, ratioStep, precision))
        }
        return cumulative[block]
    }

    /// The next block's mass, moving `mass` and `ratio` on to the block after.
    private static func advance(
        _ mass: inout Enclosure, _ ratio: inout Enclosure, _ ratioStep: Enclosure, _ precision: Int
    ) -> Enclosure {
        let current = mass
        mass = mass.times(ratio, precision: precision)
        ratio = ratio.times(ratioStep, precision: precision)
        return current
    }
}
