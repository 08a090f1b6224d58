public import CloisterErrors

/// Why sealed memory could not be set up or accessed (other than an `IntegrityFault`).
public struct SealedMemoryError: CodedError {
    public typealias Code = ErrorCode<SealedMemoryError>

    public let code: Code
    /// What was wrong, naming the size, offset or region involved.
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension ErrorCode where Domain == SealedMemoryError {
    /// A budget or region size is not a positive multiple of the 4 KiB page size.
    public static let invalidSize = Self("invalid-size")
    /// A region name is empty, too long, or has characters other than letters, digits, '.', '-' and '_'.
    public static let invalidName = Self("invalid-name")
    /// A region with this name already exists in the enclave's memory.
    public static let duplicateRegion = Self("duplicate-region")
    /// An access reaches outside the region (or names a page it does not have).
    public static let outOfBounds = Self("out-of-bounds")
}
