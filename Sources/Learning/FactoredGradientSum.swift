public import Privacy

/// DP-SGD's clipped-gradient sum for a step, in the integers the step's `DiscreteGaussianMechanism` releases, formed
/// without quantising a record coordinate by coordinate.
///
/// Each layer of a record's clipped gradient is an outer product e ⊗ ã of its error (scaled by the clipping factor)
/// and its input with a trailing 1. The record is put on the grid of step C/2^f (f =
/// `DiscreteGaussianMechanism.roundedGridExponent`, 2^s times finer than the mechanism's, f = k + s), as an outer
/// product of integers P ⊗ Q: P = λe and Q = μã, each truncated toward zero, with λμ = 2^f/C and λ‖e‖ = μ‖ã‖ (so both
/// factors carry about f/2 bits). Truncation never lengthens a factor, and the record's exact squared norm
/// Σ ‖P‖²‖Q‖² over its layers is checked in integers against (2^f)²: a record past it contributes nothing, as a
/// gradient that is not finite contributes nothing. Each record's integers are a function of that record and the model
/// alone.
///
/// The admitted records' products are summed exactly: every |P_j·Q_k| is at most 2^f, an integer, so up to 2⁵³⁻ᶠ
/// records add up in doubles with every partial sum an integer below 2⁵³ (no rounding, in any order, vectorised);
/// a step with more records moves each such block into 128-bit integers. The released integers round the fine sum to
/// the mechanism's grid (`DiscreteGaussianMechanism.coarseUnits`), which the mechanism's `roundingSlack` pays for:
/// ⌈√d⌉ on top of Δ. This is where the time goes in a step: one multiply and add per coordinate of a record, where
/// quantising each coordinate took a conversion, a square and two checked additions.
public final class FactoredGradientSum {
    /// The mechanism the sum is released by: made for at least this sum's coordinates rounded.
    public let mechanism: DiscreteGaussianMechanism
    /// s: the records' grid has 2^s steps per step of the mechanism's.
    public let fineBits: Int

    /// Admitted records wait in groups of this many, so that each row of the block is loaded and stored once for all
    /// of them.
    private static let groupSize = 4

    private let coordinates: Int
    private let unitsPerValue: Double
    private let bound: UInt128
    private let blockCapacity: Int
    private var blockRecords = 0
    private var records = 0
    private let block: UnsafeMutableBufferPointer<Double>
    /// The exact sums of the blocks moved out of `block`; allocated when a step has more than one block of records.
    private var total: UnsafeMutableBufferPointer<Int128>?
    /// The group's records' factors, `factorCount` numbers each: P and Q of the first layer, then of the second.
    private let factors: UnsafeMutableBufferPointer<Double>
    private let factorCount: Int
    /// Admitted records waiting in `factors`.
    private var waiting = 0
    /// The layers' rows, widths (with the 1) and offsets, the same for every record of the model.
    private var shapes: [(rows: Int, width: Int, offset: Int)] = []

    /// A zero sum over `coordinates` parameters, for records of layers at most `factorCount` numbers long in all
    /// (the layers' errors and inputs, each input with its trailing 1), released by `mechanism`, which must be made
    /// for at least `coordinates` rounded coordinates.
    public init(mechanism: DiscreteGaussianMechanism, coordinates: Int, factorCount: Int) {
        let slack = Int(mechanism.roundingSlack)
        precondition(
            slack > 0 && slack.multipliedReportingOverflow(by: slack).partialValue >= coordinates,
            "the mechanism must pay for rounding \(coordinates) coordinates")
        self.mechanism = mechanism
        self.coordinates = coordinates
        let exponent = DiscreteGaussianMechanism.roundedGridExponent
        fineBits = exponent - mechanism.gridExponent
        unitsPerValue = Double(sign: .plus, exponent: exponent, significand: 1) / mechanism.clip
        bound = UInt128(1) << (2 * exponent)
        blockCapacity = 1 << (53 - exponent)
        block = .allocate(capacity: coordinates)
        block.initialize(repeating: 0)
        self.factorCount = factorCount
        factors = .allocate(capacity: factorCount * Self.groupSize)
        factors.initialize(repeating: 0)
    }

    deinit {
        block.deallocate()
        total?.deallocate()
        factors.deallocate()
    }

    /// Adds a record whose clipped gradient is `layers` scaled by `factor`; returns whether it was admitted.
    func add(_ layers: (GradientLayer, GradientLayer?), scaledBy factor: Double) -> Bool {
        let slot = waiting * factorCount
        let first = quantise(layers.0, factor: factor, at: slot)
        guard let first else { return false }
        var squares = first.squares
        if let layer = layers.1 {
            let second = quantise(layer, factor: factor, at: first.end)
            guard let second else { return false }
            let (sum, overflow) = squares.addingReportingOverflow(second.squares)
            guard !overflow else { return false }
            squares = sum
        }
        guard squares <= bound else { return false }
        records += 1
        precondition(records <= DiscreteGaussianMechanism.maximumRecords, "a step's sum takes at most 2^31 records")
        if shapes.isEmpty {
            shapes = [layers.0, layers.1].compactMap { $0 }.map { ($0.error.count, $0.input.count + 1, $0.offset) }
        }
        waiting += 1
        if waiting == Self.groupSize { accumulate() }
        return true
    }

    /// The released integers, the fine sum rounded to the mechanism's grid, one per coordinate, followed by
    /// `extraCoordinates` zeros (for coordinates of the release outside this sum).
    public func units(extraCoordinates: Int = 0) -> [Int64] {
        accumulate()
        var units = [Int64](repeating: 0, count: coordinates + extraCoordinates)
        if let total {
            flush(into: total)
            for i in 0..<coordinates {
                units[i] = DiscreteGaussianMechanism.coarseUnits(fineSum: total[i], fineBits: fineBits)
            }
        } else {
            for i in 0..<coordinates {
                units[i] = DiscreteGaussianMechanism.coarseUnits(fineSum: Int128(Int64(block[i])), fineBits: fineBits)
            }
        }
        return units
    }

    /// Puts the layer's P (its rows) and then Q (its input and the 1) into `factors` from `start`; returns ‖P‖²‖Q‖²
    /// and where the next layer's factors go, or nil when a factor is not finite or the product leaves 128 bits.
    private func quantise(_ layer: GradientLayer, factor: Double, at start: Int) -> (squares: UInt128, end: Int)? {
        let rows = layer.error.count
        let width = layer.input.count
        let errorNorm = factor * layer.errorSquares.squareRoot()
        let inputNorm = layer.inputSquares.squareRoot()
        let end = start + rows + width + 1
        guard errorNorm > 0 else {
            // A zero error: the layer adds nothing, and its factors say so.
            for i in start..<end { factors[i] = 0 }
            return (0, end)
        }
        // λ = √(2^f/C · ‖ã‖/‖e‖), each factor's root taken apart so that no quotient overflows.
        let lambda = unitsPerValue.squareRoot() * inputNorm.squareRoot() / errorNorm.squareRoot()
        let mu = unitsPerValue / lambda
        guard lambda.isFinite, mu.isFinite else { return nil }
        let scaledError = factor * lambda
        // Each factor's square and their running sum are exact in doubles while the sum stays below 2⁵³ (the sums only
        // grow, so a final sum below it had no rounding on the way); past it, they are counted again in integers.
        var errorSquares = 0.0
        for j in 0..<rows {
            guard let value = Self.truncated(scaledError * layer.error[j]) else { return nil }
            factors[start + j] = value
            errorSquares += value * value
        }
        var inputSquares = 0.0
        for i in 0..<width {
            guard let value = Self.truncated(mu * layer.input[i]) else { return nil }
            factors[start + rows + i] = value
            inputSquares += value * value
        }
        guard let one = Self.truncated(mu) else { return nil }
        factors[start + rows + width] = one
        inputSquares += one * one
        let (squares, overflow) = exactSquares(errorSquares, factorsFrom: start, count: rows)
            .multipliedReportingOverflow(
                by: exactSquares(inputSquares, factorsFrom: start + rows, count: width + 1))
        return overflow ? nil : (squares, end)
    }

    /// Σ of the squares of `count` factors from `start`, exactly: `sum` when it is below 2⁵³ (then exact), else
    /// counted again in 128-bit integers.
    private func exactSquares(_ sum: Double, factorsFrom start: Int, count: Int) -> UInt128 {
        if sum < 0x1p53 { return UInt128(UInt64(sum)) }
        var exact: UInt128 = 0
        for i in start..<(start + count) {
            let magnitude = UInt128(Int64(factors[i]).magnitude)
            exact += magnitude * magnitude
        }
        return exact
    }

    /// x truncated toward zero (the conversion truncates, in one instruction), when it is finite and within 2⁴⁸: with
    /// factors up to 2⁴⁸ no sum of squares leaves 128 bits. Past it, no admitted record has it unless its partner
    /// factors are all zero (the layer adds nothing then), so one such factor is enough to refuse a record.
    private static func truncated(_ x: Double) -> Double? {
        abs(x) <= 0x1p48 ? Double(Int64(x)) : nil
    }

    /// Adds the waiting records' P ⊗ Q to the block: exact, every product and partial sum an integer below 2⁵³
    /// (the order of the additions does not matter).
    private func accumulate() {
        guard waiting > 0 else { return }
        let stride = factorCount
        let first = factors.baseAddress!
        var start = 0
        for shape in shapes {
            let q0 = UnsafePointer(first + start + shape.rows)
            let (q1, q2, q3) = (q0 + stride, q0 + 2 * stride, q0 + 3 * stride)
            for j in 0..<shape.rows {
                // Unused slots have p = 0 and whatever factors were last there: finite integers, so 0·q adds 0.
                let p0 = first[start + j]
                let p1 = waiting > 1 ? first[stride + start + j] : 0
                let p2 = waiting > 2 ? first[2 * stride + start + j] : 0
                let p3 = waiting > 3 ? first[3 * stride + start + j] : 0
                if p0 == 0 && p1 == 0 && p2 == 0 && p3 == 0 { continue }
                let row = block.baseAddress! + shape.offset + j * shape.width
                for i in 0..<shape.width { row[i] += p0 * q0[i] + p1 * q1[i] + p2 * q2[i] + p3 * q3[i] }
            }
            start += shape.rows + shape.width
        }
        blockRecords += waiting
        waiting = 0
        if blockRecords >= blockCapacity - Self.groupSize {
            let total = total ?? Self.zeros(coordinates)
            self.total = total
            flush(into: total)
        }
    }

    private static func zeros(_ count: Int) -> UnsafeMutableBufferPointer<Int128> {
        let buffer = UnsafeMutableBufferPointer<Int128>.allocate(capacity: count)
        buffer.initialize(repeating: 0)
        return buffer
    }

    /// Moves the block's exact integers into the 128-bit totals.
    private func flush(into total: UnsafeMutableBufferPointer<Int128>) {
        guard blockRecords > 0 else { return }
        for i in block.indices where block[i] != 0 {
            total[i] += Int128(Int64(block[i]))
            block[i] = 0
        }
        blockRecords = 0
    }
}
