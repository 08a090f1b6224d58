public import Learning

/// A client's local training in a round: `epochs` passes of shuffled minibatch SGD over its own data, starting from
/// the global model, on the cross-entropy plus FedProx's proximal term (μ/2)‖θ − θ_global‖² (μ = 0 is FedAvg's
/// plain local SGD). Not private by itself: client-level privacy comes from the aggregator's clipping and noise.
public struct LocalTraining: Sendable, Hashable, Codable {
    public let epochs: Int
    public let batchSize: Int
    public let learningRate: Double
    public let proximalWeight: Double

    public init(epochs: Int, batchSize: Int, learningRate: Double, proximalWeight: Double = 0) throws(FederationError) {
        guard epochs > 0, batchSize > 0 else {
            throw FederationError(.invalidParameter, "local epochs and batch size must be positive")
        }
        guard learningRate > 0, learningRate.isFinite else {
            throw FederationError(.invalidParameter, "learning rate must be positive, got \(learningRate)")
        }
        guard proximalWeight >= 0, proximalWeight.isFinite else {
            throw FederationError(.invalidParameter, "the proximal weight must be at least 0, got \(proximalWeight)")
        }
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.proximalWeight = proximalWeight
    }

    /// `global` trained on `data`; the shuffles come from `seed`.
    public func train(_ global: Model, on data: Dataset, seed: UInt64) -> Model {
        var model = global
        var generator = SplitMix64(seed: seed)
        var order = Array(0..<data.count)
        var gradient = [Double](repeating: 0, count: model.parameters.count)
        var scratch = [Double](repeating: 0, count: model.scratchCount)
        for _ in 0..<epochs {
            order.shuffle(using: &generator)
            for start in stride(from: 0, to: order.count, by: batchSize) {
                let batch = order[start..<min(start + batchSize, order.count)]
                for index in gradient.indices { gradient[index] = 0 }
                data.features.withUnsafeBufferPointer { features in
                    gradient.withUnsafeMutableBufferPointer { sum in
                        scratch.withUnsafeMutableBufferPointer { scratch in
                            for example in batch {
                                let row = UnsafeBufferPointer(
                                    rebasing: features[
                                        (example * data.featureCount)..<((example + 1) * data.featureCount)])
                                model.addGradient(
                                    row: row, label: data.labels[example], clippedTo: nil, into: sum, scratch: scratch)
                            }
                        }
                    }
                }
                let scale = 1 / Double(batch.count)
                for index in model.parameters.indices {
                    let proximal = proximalWeight * (model.parameters[index] - global.parameters[index])
                    model.parameters[index] -= learningRate * (gradient[index] * scale + proximal)
                }
            }
        }
        return model
    }
}
