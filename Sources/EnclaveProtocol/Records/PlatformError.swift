public import CloisterErrors

/// Why the simulated platform refused or failed: a stable `code` for programs, a `reason` for people.
public struct PlatformError: CodedError {
    public typealias Code = ErrorCode<PlatformError>

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}

extension ErrorCode where Domain == PlatformError {
    /// The platform home holds no platform (run `cloister platform init`).
    public static let notInitialized = Self("not-initialized")
    /// `init` found a platform already in the home.
    public static let alreadyInitialized = Self("already-initialized")
    /// The home or a file in it is readable by others or owned by someone else.
    public static let insecurePermissions = Self("insecure-permissions")
    /// A state file is unreadable or inconsistent with the others.
    public static let corruptState = Self("corrupt-state")
    /// A request the platform does not accept (bad TCB level, a revoked platform asked to move its TCB).
    public static let invalidRequest = Self("invalid-request")
    /// An enclave's report did not verify (wrong MAC, another target, altered body).
    public static let reportRejected = Self("report-rejected")
}
