public import CloisterErrors

/// Why data, a schema or a training plan was refused: a stable `code` for programs, a `reason` naming the file,
/// line, column or parameter for people.
public struct LearningError: CodedError {
    public typealias Code = ErrorCode<LearningError>

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension ErrorCode where Domain == LearningError {
    /// A dataset file that cannot be read or parsed.
    public static let malformedData = Self("malformed-data")
    /// A feature schema that cannot be read, parsed, or does not cover the dataset.
    public static let malformedSchema = Self("malformed-schema")
    /// A model or training parameter outside its domain.
    public static let invalidParameter = Self("invalid-parameter")
}
