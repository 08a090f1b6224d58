public import CloisterErrors

/// Why a simulated vendor could not do what it was asked: a stored vendor or collateral that does not read (the field
/// named), or a request its platform cannot answer.
public struct SimulatedHardwareError: CodedError {
    public typealias Code = ErrorCode<SimulatedHardwareError>

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension ErrorCode where Domain == SimulatedHardwareError {
    /// Stored vendor keys, certificates or collateral do not read.
    public static let malformedState = Self("malformed-simulated-state")
    /// The request does not fit the platform (a quote version it does not write, a TCB its collateral was not
    /// published for, an enclave identity of the wrong size).
    public static let invalidRequest = Self("invalid-simulated-request")
    /// A key or certificate could not be made.
    public static let cryptography = Self("simulated-cryptography")
}
