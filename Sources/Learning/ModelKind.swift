/// The models DP-SGD trains.
public enum ModelKind: String, Sendable, Codable, CaseIterable {
    /// Binary logistic regression (labels 0 and 1).
    case logistic
    /// Multinomial logistic (softmax) regression.
    case softmax
    /// One hidden layer of tanh units, softmax output.
    case mlp
}
