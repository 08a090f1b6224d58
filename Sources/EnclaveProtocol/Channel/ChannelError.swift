public import CloisterErrors
import Glibc

/// Why a channel operation failed: a stable `code` for programs, a `reason` for people.
public struct ChannelError: CodedError {
    public typealias Code = ErrorCode<ChannelError>

    public let code: Code
    /// What failed, with the sizes, syscall and errno text involved.
    public let reason: String
    /// The errno behind the failure, when a system call failed.
    public let errno: Int32?

    public init(_ code: Code, _ reason: String, errno: Int32? = nil) {
        self.code = code
        self.reason = reason
        self.errno = errno
    }

    static func systemCall(_ call: String, errno error: Int32 = Glibc.errno) -> ChannelError {
        ChannelError(.systemCall, "\(call): \(errnoText(error))", errno: error)
    }
}

extension ErrorCode where Domain == ChannelError {
    /// The peer closed its end between frames.
    public static let closed = Self("closed")
    /// The peer closed its end in the middle of a frame.
    public static let truncatedFrame = Self("truncated-frame")
    /// A frame is longer than the channel's maximum.
    public static let frameTooLarge = Self("frame-too-large")
    /// A frame carried a descriptor the receiver did not ask for, or lacked one it asked for.
    public static let descriptorMismatch = Self("descriptor-mismatch")
    /// A system call on the channel's socket failed.
    public static let systemCall = Self("system-call")
}
