internal import CMatrixKernels
import FoundationEssentials
import Glibc
public import Privacy

/// A model's shape and parameters, with the per-example loss gradient DP-SGD clips and the prediction it is scored
/// by. Parameters are one flat vector:
/// - logistic: `[w₀ … w_{d−1}, b]`, P(y = 1 | x) = σ(w·x + b);
/// - softmax: K rows `[w_k, b_k]`, P(y = k | x) = softmax(W x̃)_k with x̃ = [x, 1];
/// - mlp: H rows `[v_j, c_j]` of the hidden layer h = tanh(V x̃), then K rows `[w_k, b_k]` over h̃ = [h, 1].
/// The loss is the cross-entropy of the label.
public struct Model: Sendable, Codable, Equatable {
    public let kind: ModelKind
    public let featureCount: Int
    public let classCount: Int
    /// Hidden units (mlp only; 0 otherwise).
    public let hiddenUnits: Int
    public var parameters: [Double]

    /// The most classes a model may have, and so the largest class count a dataset's labels or schema may set.
    public static let maximumClassCount = 1_000
    /// The most parameters a model may have: 2^24, 128 MiB of doubles (each copy DP-SGD keeps is that large).
    public static let maximumParameterCount = 1 << 24

    /// A model with its initial parameters: zeros for the linear models; for the MLP, weights drawn uniformly in
    /// ±√(6 / (fan-in + fan-out)) (Glorot and Bengio 2010) from `seed`, biases zero. Refuses a shape past
    /// `maximumClassCount` or `maximumParameterCount` before allocating anything.
    public init(
        kind: ModelKind, featureCount: Int, classCount: Int, hiddenUnits: Int = 32, seed: UInt64 = 0
    ) throws(LearningError) {
        guard featureCount > 0 else { throw LearningError(.invalidParameter, "a model needs at least one feature") }
        guard classCount >= 2 else {
            throw LearningError(
                .invalidParameter, "a classifier needs at least two classes, the labels have \(classCount)")
        }
        guard classCount <= Self.maximumClassCount else {
            throw LearningError(
                .invalidParameter, "a model has at most \(Self.maximumClassCount) classes, not \(classCount)")
        }
        if kind == .logistic && classCount != 2 {
            throw LearningError(
                .invalidParameter,
                "logistic regression needs labels 0 and 1; these have \(classCount) classes (use softmax)")
        }
        guard kind != .mlp || hiddenUnits > 0 else {
            throw LearningError(.invalidParameter, "the MLP needs at least one hidden unit")
        }
        // Every factor is below 2^24 when the products are taken, so they cannot overflow.
        let limit = Self.maximumParameterCount
        let parameterCount =
            featureCount >= limit || (kind == .mlp && hiddenUnits >= limit)
            ? Int.max
            : Self.parameterCount(kind, featureCount: featureCount, classCount: classCount, hiddenUnits: hiddenUnits)
        guard parameterCount <= limit else {
            let hidden = kind == .mlp ? ", \(hiddenUnits) hidden units" : ""
            throw LearningError(
                .invalidParameter,
                "a \(kind.rawValue) model of \(featureCount) features, \(classCount) classes\(hidden) has more than \(Self.maximumParameterCount) parameters"
            )
        }
        self.kind = kind
        self.featureCount = featureCount
        self.classCount = classCount
        self.hiddenUnits = kind == .mlp ? hiddenUnits : 0
        switch kind {
        case .logistic:
            parameters = Array(repeating: 0, count: featureCount + 1)
        case .softmax:
            parameters = Array(repeating: 0, count: classCount * (featureCount + 1))
        case .mlp:
            var generator = SplitMix64(seed: seed)
            func glorot(_ rows: Int, _ inputs: Int) -> [Double] {
                let limit = (6 / Double(inputs + rows)).squareRoot()
                return (0..<rows).flatMap { _ in
                    (0..<inputs).map { _ in Double.random(in: -limit...limit, using: &generator) } + [0]
                }
            }
            parameters = glorot(hiddenUnits, featureCount) + glorot(classCount, hiddenUnits)
        }
    }

    /// The length of the parameter vector of a model of this shape.
    private static func parameterCount(_ kind: ModelKind, featureCount: Int, classCount: Int, hiddenUnits: Int) -> Int {
        switch kind {
        case .logistic: featureCount + 1
        case .softmax: classCount * (featureCount + 1)
        case .mlp: hiddenUnits * (featureCount + 1) + classCount * (hiddenUnits + 1)
        }
    }

    /// Scratch space `addGradient(row:label:clippedTo:into:scratch:)` needs.
    public var scratchCount: Int { 2 * hiddenUnits + classCount }

    /// Adds the gradient of the example's loss, clipped to L2 norm `bound` when one is given (scaled by
    /// min(1, bound / ‖g‖); a gradient that is not finite adds nothing), to `sum`.
    ///
    /// Every layer's gradient is an outer product δ ⊗ [input, 1] of the layer's error and its input, so
    /// ‖g‖² = Σ ‖δ‖² (‖input‖² + 1) is known before any of it is written, and the clipped gradient is added to the
    /// sum directly (no per-example gradient buffer).
    public func addGradient(
        row x: UnsafeBufferPointer<Double>, label: Int, clippedTo bound: Double?,
        into sum: UnsafeMutableBufferPointer<Double>, scratch: UnsafeMutableBufferPointer<Double>
    ) {
        withClippedLayers(row: x, label: label, clippedTo: bound, scratch: scratch) { layers, factor in
            layers.0.add(scaledBy: factor, to: sum)
            layers.1?.add(scaledBy: factor, to: sum)
        }
    }

    /// The example's layers (the outer products δ ⊗ [input, 1] of its gradient: one for the linear models, two for
    /// the MLP) and the factor clipping to `bound` scales them by, passed to `body`; nil without calling it when the
    /// gradient is not finite.
    private func withClippedLayers<Result>(
        row x: UnsafeBufferPointer<Double>, label: Int, clippedTo bound: Double?,
        scratch: UnsafeMutableBufferPointer<Double>, _ body: ((ExampleLayer, ExampleLayer?), Double) -> Result
    ) -> Result? {
        parameters.withUnsafeBufferPointer { theta in
            let d = featureCount
            let h = hiddenUnits
            let output = UnsafeMutableBufferPointer(rebasing: scratch[h..<(h + classCount)])
            let layers: (ExampleLayer, ExampleLayer?)
            switch kind {
            case .logistic:
                output[0] = sigmoid(affine(theta, row: 0, width: d, input: x)) - Double(label)
                layers = (ExampleLayer(error: UnsafeBufferPointer(rebasing: output[0..<1]), input: x, offset: 0), nil)
            case .softmax:
                logits(theta, offset: 0, width: d, input: x, into: output)
                softmax(output)
                output[label] -= 1
                layers = (ExampleLayer(error: UnsafeBufferPointer(output), input: x, offset: 0), nil)
            case .mlp:
                let hidden = UnsafeMutableBufferPointer(rebasing: scratch[0..<h])
                let back = UnsafeMutableBufferPointer(rebasing: scratch[(h + classCount)..<(2 * h + classCount)])
                forward(theta, input: x, hidden: hidden, probabilities: output)
                output[label] -= 1
                let outer = h * (d + 1)
                for j in 0..<h { back[j] = 0 }
                for k in 0..<classCount {
                    let base = outer + k * (h + 1)
                    for j in 0..<h { back[j] += output[k] * theta[base + j] }
                }
                for j in 0..<h { back[j] *= 1 - hidden[j] * hidden[j] }
                layers = (
                    ExampleLayer(error: UnsafeBufferPointer(back), input: x, offset: 0),
                    ExampleLayer(error: UnsafeBufferPointer(output), input: UnsafeBufferPointer(hidden), offset: outer)
                )
            }
            let squares = layers.0.squaredNorm + (layers.1?.squaredNorm ?? 0)
            let factor = bound.map { PerExampleClipping.factor(norm: squares.squareRoot(), bound: $0) } ?? 1
            guard factor > 0 else { return nil }
            return body(layers, factor)
        }
    }

    /// The gradient of one example's loss, clipped to `bound` when one is given (allocating; for tests and tools).
    public func gradient(row: [Double], label: Int, clippedTo bound: Double? = nil) -> [Double] {
        var gradient = [Double](repeating: 0, count: parameters.count)
        var scratch = [Double](repeating: 0, count: scratchCount)
        row.withUnsafeBufferPointer { x in
            gradient.withUnsafeMutableBufferPointer { g in
                scratch.withUnsafeMutableBufferPointer {
                    addGradient(row: x, label: label, clippedTo: bound, into: g, scratch: $0)
                }
            }
        }
        return gradient
    }

    /// The model that predicts on x what this one predicts on x − `centre`: the first layer is affine, so
    /// w·(x − μ) + b = w·x + (b − w·μ) and the centre folds into its biases.
    public func folding(centre: [Double]) -> Model {
        precondition(centre.count == featureCount, "a centre has one value per feature")
        let rows: Int
        switch kind {
        case .logistic: rows = 1
        case .softmax: rows = classCount
        case .mlp: rows = hiddenUnits
        }
        var folded = self
        for row in 0..<rows {
            let base = row * (featureCount + 1)
            let shift = zip(parameters[base..<(base + featureCount)], centre).reduce(0) { $0 + $1.0 * $1.1 }
            folded.parameters[base + featureCount] -= shift
        }
        return folded
    }

    /// The class probabilities for one example.
    public func probabilities(row: [Double]) -> [Double] {
        row.withUnsafeBufferPointer { probabilities(row: $0) }
    }

    /// The class probabilities for the example whose features `x` holds.
    public func probabilities(row x: UnsafeBufferPointer<Double>) -> [Double] {
        var probabilities = [Double](repeating: 0, count: classCount)
        var hidden = [Double](repeating: 0, count: hiddenUnits)
        parameters.withUnsafeBufferPointer { theta in
            probabilities.withUnsafeMutableBufferPointer { p in
                switch kind {
                case .logistic:
                    p[1] = sigmoid(affine(theta, row: 0, width: featureCount, input: x))
                    p[0] = 1 - p[1]
                case .softmax:
                    logits(theta, offset: 0, width: featureCount, input: x, into: p)
                    softmax(p)
                case .mlp:
                    hidden.withUnsafeMutableBufferPointer { forward(theta, input: x, hidden: $0, probabilities: p) }
                }
            }
        }
        return probabilities
    }

    /// The example's cross-entropy loss.
    public func loss(row: [Double], label: Int) -> Double {
        -log(max(probabilities(row: row)[label], .leastNormalMagnitude))
    }

    /// The most probable class.
    public func predict(row: [Double]) -> Int {
        row.withUnsafeBufferPointer { predict(row: $0) }
    }

    /// The most probable class of the example whose features `x` holds.
    public func predict(row x: UnsafeBufferPointer<Double>) -> Int {
        let probabilities = probabilities(row: x)
        return probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0
    }

    /// The fraction of `data` predicted correctly.
    public func accuracy<Rows: ExampleRows>(on data: Rows) throws(Rows.Failure) -> Double {
        guard data.count > 0 else { return 0 }
        var correct = 0
        try data.forEachExample(at: Array(0..<data.count)) { row, label in
            if predict(row: row) == label { correct += 1 }
        }
        return Double(correct) / Double(data.count)
    }

    private func forward(
        _ theta: UnsafeBufferPointer<Double>, input x: UnsafeBufferPointer<Double>,
        hidden: UnsafeMutableBufferPointer<Double>, probabilities: UnsafeMutableBufferPointer<Double>
    ) {
        logits(theta, offset: 0, width: featureCount, input: x, into: hidden)
        cloister_tanh(hidden.baseAddress!, hidden.count)
        logits(
            theta, offset: hiddenUnits * (featureCount + 1), width: hiddenUnits, input: UnsafeBufferPointer(hidden),
            into: probabilities)
        softmax(probabilities)
    }
}

/// One layer's share of an example's gradient: the outer product of its error δ and its input with a trailing 1
/// (for the biases), laid out as rows `[weights, bias]` from `offset` in the parameter vector.
struct ExampleLayer {
    let error: UnsafeBufferPointer<Double>
    let input: UnsafeBufferPointer<Double>
    let offset: Int
    /// ‖δ‖².
    let errorSquares: Double
    /// ‖[input, 1]‖².
    let inputSquares: Double

    init(error: UnsafeBufferPointer<Double>, input: UnsafeBufferPointer<Double>, offset: Int) {
        self.error = error
        self.input = input
        self.offset = offset
        errorSquares = dot(error, error)
        inputSquares = 1 + dot(input, input)
    }

    /// ‖δ ⊗ [input, 1]‖² = ‖δ‖² (‖input‖² + 1).
    var squaredNorm: Double { errorSquares * inputSquares }

    func add(scaledBy factor: Double, to sum: UnsafeMutableBufferPointer<Double>) {
        let width = input.count
        for row in error.indices {
            let scaled = factor * error[row]
            let base = offset + row * (width + 1)
            for i in 0..<width { sum[base + i] += scaled * input[i] }
            sum[base + width] += scaled
        }
    }
}

/// w·x + b for the weight row `row` of width `width` (followed by its bias) in `theta`.
private func affine(
    _ theta: UnsafeBufferPointer<Double>, row: Int, width: Int, input x: UnsafeBufferPointer<Double>
) -> Double {
    let base = row * (width + 1)
    return theta[base + width] + dot(UnsafeBufferPointer(rebasing: theta[base..<(base + width)]), x)
}

/// Σ aᵢbᵢ over four independent partial sums, so the additions pipeline (and vectorise) instead of waiting on each
/// other.
private func dot(_ a: UnsafeBufferPointer<Double>, _ b: UnsafeBufferPointer<Double>) -> Double {
    var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
    var i = 0
    while i + 4 <= a.count {
        s0 += a[i] * b[i]
        s1 += a[i + 1] * b[i + 1]
        s2 += a[i + 2] * b[i + 2]
        s3 += a[i + 3] * b[i + 3]
        i += 4
    }
    while i < a.count {
        s0 += a[i] * b[i]
        i += 1
    }
    return (s0 + s1) + (s2 + s3)
}

/// One affine output per row of `output`, rows `[w, b]` of width `width` starting at `offset`.
private func logits(
    _ theta: UnsafeBufferPointer<Double>, offset: Int, width: Int, input x: UnsafeBufferPointer<Double>,
    into output: UnsafeMutableBufferPointer<Double>
) {
    let rows = UnsafeBufferPointer(rebasing: theta[offset...])
    for k in output.indices { output[k] = affine(rows, row: k, width: width, input: x) }
}

func sigmoid(_ z: Double) -> Double {
    z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z))
}

/// Softmax in place, shifted by the maximum so no exponential overflows (`cloister_softmax`, vectorised).
func softmax(_ values: UnsafeMutableBufferPointer<Double>) {
    cloister_softmax(values.baseAddress!, values.count)
}
