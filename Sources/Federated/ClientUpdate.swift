/// One client's contribution to a round: its locally trained parameters (one flat float32 vector, the global model's
/// layout) and the number of examples it trained on (FedAvg's weight).
public struct ClientUpdate: Sendable, Equatable {
    public let parameters: [Float]
    public let exampleCount: Int

    public init(parameters: [Float], exampleCount: Int) {
        self.parameters = parameters
        self.exampleCount = exampleCount
    }
}
