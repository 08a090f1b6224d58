import Federated
import Learning
import Testing

@Suite("Local training")
struct LocalTrainingTests {
    @Test("FedProx's proximal term keeps the local model nearer the global one; training is seeded")
    func proximal() throws {
        let (train, _) = try RobustnessTests.data()
        let global = try Model(kind: .logistic, featureCount: train.featureCount, classCount: 2)
        func drift(_ mu: Double) throws -> Double {
            let local = try LocalTraining(epochs: 3, batchSize: 16, learningRate: 0.02, proximalWeight: mu)
            let model = local.train(global, on: train, seed: 1)
            #expect(model == local.train(global, on: train, seed: 1))
            return zip(model.parameters, global.parameters).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
        }
        let plain = try drift(0)
        let prox = try drift(20)
        #expect(prox < plain / 2, "drift \(prox) with mu 20, \(plain) without")
        #expect(throws: FederationError.self) { try LocalTraining(epochs: 0, batchSize: 1, learningRate: 1) }
        #expect(throws: FederationError.self) {
            try LocalTraining(epochs: 1, batchSize: 1, learningRate: 1, proximalWeight: -1)
        }
    }
}
