import Glibc

/// Why a channel operation failed: a stable `code` for programs, a `reason` for people.
public struct ChannelError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable identifier of the failure kind.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The peer closed its end between frames.
        public static let closed = Code(rawValue: "closed")
        /// The peer closed its end in the middle of a frame.
        public static let truncatedFrame = Code(rawValue: "truncated-frame")
        /// A frame is longer than the channel's maximum.
        public static let frameTooLarge = Code(rawValue: "frame-too-large")
        /// A frame carried a descriptor the receiver did not ask for, or lacked one it asked for.
        public static let descriptorMismatch = Code(rawValue: "descriptor-mismatch")
        /// A system call on the channel's socket failed.
        public static let systemCall = Code(rawValue: "system-call")
    }

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

    public var description: String { "\(code): \(reason)" }

    static func systemCall(_ call: String, errno error: Int32 = Glibc.errno) -> ChannelError {
        ChannelError(.systemCall, "\(call): \(errnoText(error))", errno: error)
    }
}
