internal import CMatrixKernels
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
/// records add up in doubles with every partial sum an integer below 2⁵³ (no rounding, in any order, fused or not),
/// which lets a batch's products be one matrix product Pᵀ·Q on the CPU's widest vectors
/// (`cloister_add_outer_products`); a step with more records moves each such block into 128-bit integers. The released
/// integers round the fine sum to the mechanism's grid (`DiscreteGaussianMechanism.coarseUnits`), which the
/// mechanism's `roundingSlack` pays for: ⌈√d⌉ on top of Δ. A record costs one multiply and add per coordinate, where
/// quantising each coordinate took a conversion, a square and two checked additions.
public final class FactoredGradientSum: @unchecked Sendable {
    /// The mechanism the sum is released by: made for at least this sum's coordinates rounded.
    public let mechanism: DiscreteGaussianMechanism
    /// s: the records' grid has 2^s steps per step of the mechanism's.
    public let fineBits: Int
    /// The most records one `add` takes: a block holds 2⁵³⁻ᶠ.
    static let maximumBatch = 1 << (53 - DiscreteGaussianMechanism.roundedGridExponent)

    private let coordinates: Int
    private let unitsPerValue: Double
    /// (2^f)²: the most an admitted record's Σ ‖P‖²‖Q‖² may be.
    let bound: UInt128
    private let blockCapacity: Int
    private var blockRecords = 0
    private var records = 0
    private let block: UnsafeMutableBufferPointer<Double>
    /// The exact sums of the blocks moved out of `block`; allocated when a step has more than one block of records.
    private var total: UnsafeMutableBufferPointer<Int128>?

    /// A zero sum over `coordinates` parameters, released by `mechanism`, which must be made for at least
    /// `coordinates` rounded coordinates.
    public init(mechanism: DiscreteGaussianMechanism, coordinates: Int) {
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
        blockCapacity = Self.maximumBatch
        block = .allocate(capacity: coordinates)
        block.initialize(repeating: 0)
    }

    deinit {
        block.deallocate()
        total?.deallocate()
    }

    /// Adds the clipped gradients of `count` records (at most `maximumBatch`), each the outer products of its rows of
    /// `layers` (`GradientLayers`), clipped to the mechanism's C. Each record's rows are overwritten with its integer
    /// factors, or zeros when it is refused: its gradient is not finite, or its integers are past the mechanism's exact
    /// sensitivity. Returns how many were admitted.
    @discardableResult
    func add(records count: Int, layers: GradientLayers) -> Int {
        precondition(count <= Self.maximumBatch, "a batch of the sum takes at most \(Self.maximumBatch) records")
        if blockRecords + count > blockCapacity {
            let total = total ?? Self.zeros(coordinates)
            self.total = total
            flush(into: total)
        }
        var admitted = 0
        for record in 0..<count {
            if admit(record, layers) {
                admitted += 1
            } else {
                layers.clear(record)
            }
        }
        records += admitted
        precondition(records <= DiscreteGaussianMechanism.maximumRecords, "a step's sum takes at most 2^31 records")
        for layer in layers.all {
            cloister_add_outer_products(
                count, layer.rows, layer.width, layer.errors, layer.rows, layer.inputs, layer.width,
                block.baseAddress! + layer.offset, layer.width)
        }
        blockRecords += count
        return admitted
    }

    /// Adds `other`, a sum of further records of the same release (exactly: in doubles while both blocks' records fit
    /// one block, else in the 128-bit totals).
    func add(_ other: FactoredGradientSum) {
        precondition(other.coordinates == coordinates, "sums of one release have its coordinates")
        if blockRecords + other.blockRecords <= blockCapacity {
            for i in 0..<coordinates { block[i] += other.block[i] }
            blockRecords += other.blockRecords
        } else {
            let total = total ?? Self.zeros(coordinates)
            self.total = total
            flush(into: total)
            for i in 0..<coordinates where other.block[i] != 0 { total[i] += Int128(Int64(other.block[i])) }
        }
        if let theirs = other.total {
            let total = total ?? Self.zeros(coordinates)
            self.total = total
            for i in 0..<coordinates { total[i] += theirs[i] }
        }
        records += other.records
        precondition(records <= DiscreteGaussianMechanism.maximumRecords, "a step's sum takes at most 2^31 records")
    }

    /// The released integers, the fine sum rounded to the mechanism's grid, one per coordinate, followed by
    /// `extraCoordinates` zeros (for coordinates of the release outside this sum).
    public func units(extraCoordinates: Int = 0) -> [Int64] {
        Array(unsafeUninitializedCapacity: coordinates + extraCoordinates) { units, initialised in
            if let total {
                flush(into: total)
                for i in 0..<coordinates {
                    units[i] = DiscreteGaussianMechanism.coarseUnits(fineSum: total[i], fineBits: fineBits)
                }
            } else {
                // The block alone: every sum is at most 2⁵³, so it is rounded in 64 bits (vectorised).
                cloister_coarse_units(block.baseAddress!, coordinates, UInt32(fineBits), units.baseAddress!)
            }
            for i in coordinates..<units.count { units[i] = 0 }
            initialised = units.count
        }
    }

    /// Clips the record and turns its rows into integer factors; whether it is admitted (its rows are left partly
    /// written when it is not).
    private func admit(_ record: Int, _ layers: GradientLayers) -> Bool {
        let first = layers.first.squares(of: record)
        let second = layers.second?.squares(of: record)
        let squares = first.errors * first.inputs + (second.map { $0.errors * $0.inputs } ?? 0)
        let factor = PerExampleClipping.factor(norm: squares.squareRoot(), bound: mechanism.clip)
        guard factor > 0, var exact = quantise(layers.first, record, first, factor: factor) else { return false }
        if let layer = layers.second, let second {
            guard let more = quantise(layer, record, second, factor: factor) else { return false }
            let (sum, overflow) = exact.addingReportingOverflow(more)
            guard !overflow else { return false }
            exact = sum
        }
        return exact <= bound
    }

    /// Puts the record's row of the layer on the grid in place, as P = λe and Q = μã truncated toward zero; returns
    /// ‖P‖²‖Q‖², or nil when a factor is not finite or the product leaves 128 bits.
    func quantise(_ layer: GradientLayer, _ record: Int, _ squares: (errors: Double, inputs: Double), factor: Double)
        -> UInt128?
    {
        let errors = layer.errors + record * layer.rows
        let inputs = layer.inputs + record * layer.width
        let errorNorm = factor * squares.errors.squareRoot()
        guard errorNorm > 0 else {
            // A zero error: the layer adds nothing, and its factors say so.
            for j in 0..<layer.rows { errors[j] = 0 }
            for i in 0..<layer.width { inputs[i] = 0 }
            return 0
        }
        // λ = √(2^f/C · ‖ã‖/‖e‖), each factor's root taken apart so that no quotient overflows.
        let lambda = unitsPerValue.squareRoot() * squares.inputs.squareRoot().squareRoot() / errorNorm.squareRoot()
        let mu = unitsPerValue / lambda
        guard lambda.isFinite, mu.isFinite else { return nil }
        // Each factor's square and their running sum are exact in doubles while the sum stays below 2⁵³ (a final sum
        // below it had no rounding on the way); past it, they are counted again in integers.
        var errorSquares = 0.0
        var inputSquares = 0.0
        guard cloister_truncate_scaled(errors, layer.rows, factor * lambda, Self.largestFactor, &errorSquares) != 0,
            cloister_truncate_scaled(inputs, layer.width, mu, Self.largestFactor, &inputSquares) != 0
        else { return nil }
        let (product, overflow) = Self.exactSquares(errorSquares, errors, layer.rows)
            .multipliedReportingOverflow(by: Self.exactSquares(inputSquares, inputs, layer.width))
        return overflow ? nil : product
    }

    /// Σ of the squares of the `count` factors at `factors`, exactly: `sum` when it is below 2⁵³ (then exact), else
    /// counted again in 128-bit integers.
    private static func exactSquares(_ sum: Double, _ factors: UnsafeMutablePointer<Double>, _ count: Int) -> UInt128 {
        if sum < 0x1p53 { return UInt128(UInt64(sum)) }
        var exact: UInt128 = 0
        for i in 0..<count {
            let magnitude = UInt128(Int64(factors[i]).magnitude)
            exact += magnitude * magnitude
        }
        return exact
    }

    /// The largest factor: with factors up to 2⁴⁸ no sum of squares leaves 128 bits. Past it, no admitted record has
    /// one unless its partner factors are all zero (the layer adds nothing then), so one such factor is enough to
    /// refuse a record.
    private static let largestFactor = 0x1p48

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

/// One layer of a batch's gradients: for each record r, the outer product of its error row e_r (`rows` numbers at
/// `errors + r·rows`) and its input row ã_r (`width` numbers at `inputs + r·width`, the input with its trailing 1),
/// laid out in the parameter vector from `offset` as rows `[weights, bias]` of `width`.
struct GradientLayer {
    let errors: UnsafeMutablePointer<Double>
    let rows: Int
    let inputs: UnsafeMutablePointer<Double>
    let width: Int
    let offset: Int

    /// ‖e_r‖² and ‖ã_r‖².
    func squares(of record: Int) -> (errors: Double, inputs: Double) {
        (cloister_squared_norm(errors + record * rows, rows), cloister_squared_norm(inputs + record * width, width))
    }
}

/// A batch's gradient layers: one for the linear models, two for the MLP (the same records in both).
struct GradientLayers {
    let first: GradientLayer
    let second: GradientLayer?

    var all: [GradientLayer] { [first] + (second.map { [$0] } ?? []) }

    /// Zeros a refused record's rows, so that it adds nothing.
    func clear(_ record: Int) {
        for layer in all {
            (layer.errors + record * layer.rows).update(repeating: 0, count: layer.rows)
            (layer.inputs + record * layer.width).update(repeating: 0, count: layer.width)
        }
    }
}
