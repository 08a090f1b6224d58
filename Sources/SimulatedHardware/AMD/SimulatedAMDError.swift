public import CloisterErrors

/// Why the simulated AMD vendor refused a request or its stored state: a stable code and a reason naming the field
/// or parameter at fault.
public struct SimulatedAMDError: CodedError {
    public typealias Code = ErrorCode<SimulatedAMDError>

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension ErrorCode where Domain == SimulatedAMDError {
    /// A parameter no AMD-shaped platform can have (a product line, a report version, a platform id's size).
    public static let invalidParameter = Self("invalid-parameter")
    /// Stored vendor state or collateral that does not decode, naming the field.
    public static let malformedState = Self("malformed-state")
    /// A report asked for with collateral the vendor did not publish for that TCB or key.
    public static let collateralMismatch = Self("collateral-mismatch")
}
