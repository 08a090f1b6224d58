internal import CMatrixKernels

/// A DP-SGD step's sampled examples, a batch at a time, as the matrices its gradients are formed from: the inputs with
/// their trailing 1 (one row per example), and for the MLP its hidden activations and back-propagated errors, with
/// the outputs' errors. A batch holds at most `capacity` examples, few enough that its matrices stay in the core's
/// cache while the forward pass, the clipping and the sum run over them; it is reused from batch to batch.
final class ExampleBatch: @unchecked Sendable {
    // Owned by one thread at a time: a step hands a batch over whole (`StepGradients`).
    /// The most examples a batch holds: 32 rows of mnist_5k's 785 inputs are 200 KB (and 100 KB more as the MLP's
    /// floats). A step of 64 examples makes two, so both threads of a step have one (64 measured slower: digits 1.37
    /// against 1.62 million examples/s, the median of seven runs each).
    static let capacity = 32

    let featureCount: Int
    let classCount: Int
    let hiddenUnits: Int
    private(set) var count = 0
    private(set) var labels: [Int]
    /// Rows of `featureCount + 1`: the features (less the centre) and a 1.
    let inputs: UnsafeMutablePointer<Double>
    /// The MLP's inputs rounded to floats, for its first layer's forward pass (`StepModel`); nil for the linear models.
    let narrowInputs: UnsafeMutablePointer<Float>?
    /// Rows of `classCount`: the outputs, then their errors.
    let outputs: UnsafeMutablePointer<Double>
    /// Rows of `hiddenUnits + 1`: the hidden layer's activations and a 1 (mlp only).
    let hidden: UnsafeMutablePointer<Double>
    /// Rows of `hiddenUnits`: the hidden layer's errors (mlp only).
    let back: UnsafeMutablePointer<Double>

    init(for model: Model) {
        featureCount = model.featureCount
        classCount = model.kind == .logistic ? 1 : model.classCount
        hiddenUnits = model.hiddenUnits
        labels = Array(repeating: 0, count: Self.capacity)
        inputs = .allocate(capacity: Self.capacity * (featureCount + 1))
        narrowInputs = model.kind == .mlp ? .allocate(capacity: Self.capacity * (featureCount + 1)) : nil
        outputs = .allocate(capacity: Self.capacity * classCount)
        hidden = .allocate(capacity: Self.capacity * (hiddenUnits + 1))
        back = .allocate(capacity: Self.capacity * hiddenUnits)
    }

    deinit {
        inputs.deallocate()
        narrowInputs?.deallocate()
        outputs.deallocate()
        hidden.deallocate()
        back.deallocate()
    }

    var isFull: Bool { count == Self.capacity }

    /// Adds an example: its features less `centre` (when there is one) and its label.
    func append(_ row: UnsafeBufferPointer<Double>, label: Int, centre: UnsafeBufferPointer<Double>?) {
        precondition(!isFull, "a batch holds at most \(Self.capacity) examples")
        let width = featureCount + 1
        let destination = inputs + count * width
        if let centre {
            cloister_difference(row.baseAddress!, centre.baseAddress!, featureCount, destination)
        } else {
            destination.update(from: row.baseAddress!, count: featureCount)
        }
        destination[featureCount] = 1
        if let narrowInputs { cloister_narrow(destination, width, narrowInputs + count * width) }
        labels[count] = label
        count += 1
    }

    func removeAll() { count = 0 }
}

/// A step's model as its batches' forward passes read it: the model, and for the MLP its first layer's weights
/// transposed into single precision (`cloister_products_float`), made once a step (about 19 µs for mnist_5k's 64 units)
/// and read by both threads of the step. The MLP's first layer, 97 % of its forward pass's products, runs in floats, on
/// the batch's inputs narrowed once a row (at 2.5 times the double kernel's speed while it narrowed every input at each
/// use; narrowing once took it from 47 to 22 µs a batch of 32 × 785 × 64). Its activations feed the gradients, never
/// their clipping or their exact sum, so the release's sensitivity is the same whatever their precision.
final class StepModel: @unchecked Sendable {
    // Read only, once made: `firstLayer` is written by init alone.
    let model: Model
    /// The MLP's first-layer weights transposed: featureCount + 1 rows (the last the biases) of `firstLayerStride`
    /// floats, the units' columns then zeros up to a multiple of 32; nil for the linear models.
    private let firstLayer: UnsafeMutablePointer<Float>?
    private let firstLayerStride: Int

    init(_ model: Model) {
        self.model = model
        guard model.kind == .mlp else {
            (firstLayer, firstLayerStride) = (nil, 0)
            return
        }
        let (rows, stride) = (model.featureCount + 1, (model.hiddenUnits + 31) / 32 * 32)
        let weights = UnsafeMutablePointer<Float>.allocate(capacity: rows * stride)
        weights.initialize(repeating: 0, count: rows * stride)
        model.parameters.withUnsafeBufferPointer { theta in
            cloister_transpose_float(model.hiddenUnits, rows, theta.baseAddress!, rows, weights, stride)
        }
        (firstLayer, firstLayerStride) = (weights, stride)
    }

    deinit { firstLayer?.deallocate() }

    /// Adds the clipped gradients of the batch's examples to `sum`, in its exact integers (`FactoredGradientSum`), and
    /// empties the batch. Returns how many were added: a gradient that is not finite, or whose integers are past the
    /// mechanism's exact sensitivity, adds nothing.
    ///
    /// Every layer's gradient is an outer product of the layer's error and its input with a trailing 1, so the batch's
    /// forward pass, its errors and its clipped sum are matrix products (`CMatrixKernels`) and no example's gradient is
    /// ever formed.
    @discardableResult
    func addGradients(_ batch: ExampleBatch, into sum: FactoredGradientSum) -> Int {
        let n = batch.count
        defer { batch.removeAll() }
        guard n > 0 else { return 0 }
        let (featureCount, hiddenUnits, kind) = (model.featureCount, model.hiddenUnits, model.kind)
        return model.parameters.withUnsafeBufferPointer { theta in
            let d = featureCount + 1
            let k = batch.classCount
            let outputs = batch.outputs
            let layers: GradientLayers
            switch kind {
            case .logistic:
                cloister_products_with_rows(n, 1, d, batch.inputs, d, theta.baseAddress!, d, outputs, 1)
                for i in 0..<n { outputs[i] = sigmoid(outputs[i]) - Double(batch.labels[i]) }
                layers = GradientLayers(
                    first: GradientLayer(errors: outputs, rows: 1, inputs: batch.inputs, width: d, offset: 0),
                    second: nil)
            case .softmax:
                cloister_products_with_rows(n, k, d, batch.inputs, d, theta.baseAddress!, d, outputs, k)
                errors(batch)
                layers = GradientLayers(
                    first: GradientLayer(errors: outputs, rows: k, inputs: batch.inputs, width: d, offset: 0),
                    second: nil)
            case .mlp:
                let h = hiddenUnits
                let hidden = batch.hidden
                let outer = theta.baseAddress! + h * d
                cloister_products_float(n, d, h, batch.narrowInputs!, d, firstLayer!, firstLayerStride, hidden, h + 1)
                for i in 0..<n {
                    let row = hidden + i * (h + 1)
                    cloister_tanh(row, h)
                    row[h] = 1
                }
                cloister_products_with_rows(n, k, h + 1, hidden, h + 1, outer, h + 1, outputs, k)
                errors(batch)
                // The hidden errors: the outputs' errors through the output weights (not their biases), times tanh′.
                cloister_products_with_columns(n, k, h, outputs, k, outer, h + 1, batch.back, h)
                for i in 0..<n {
                    let (row, activations) = (batch.back + i * h, hidden + i * (h + 1))
                    for j in 0..<h { row[j] *= 1 - activations[j] * activations[j] }
                }
                layers = GradientLayers(
                    first: GradientLayer(errors: batch.back, rows: h, inputs: batch.inputs, width: d, offset: 0),
                    second: GradientLayer(errors: outputs, rows: k, inputs: hidden, width: h + 1, offset: h * d))
            }
            return sum.add(records: n, layers: layers)
        }
    }

    /// The outputs' errors in place: softmax of each row's logits, less 1 at the label.
    private func errors(_ batch: ExampleBatch) {
        let k = batch.classCount
        for i in 0..<batch.count {
            let row = UnsafeMutableBufferPointer(start: batch.outputs + i * k, count: k)
            softmax(row)
            row[batch.labels[i]] -= 1
        }
    }
}
