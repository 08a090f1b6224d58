public import CloisterErrors
import Glibc

/// Why platform state could not be written, read or trusted: a stable `code` for programs, a `reason` for people.
public struct PersistenceError: CodedError {
    public typealias Code = ErrorCode<PersistenceError>

    public let code: Code
    /// What failed, naming the path, the system call and the errno text where there is one.
    public let reason: String
    /// The errno behind the failure, when a system call failed.
    public let errno: Int32?

    public init(_ code: Code, _ reason: String, errno: Int32? = nil) {
        self.code = code
        self.reason = reason
        self.errno = errno
    }

    /// A failed system call on `path`: "`call` `path`: <errno text> (errno N)".
    package static func systemCall(_ call: String, _ path: String, errno error: Int32 = Glibc.errno) -> PersistenceError
    {
        PersistenceError(
            error == ENOENT ? .notFound : .systemCall, "\(call) \(path): \(errnoText(error))", errno: error)
    }
}

extension ErrorCode where Domain == PersistenceError {
    /// A system call the persistence layer depends on failed.
    public static let systemCall = Self("system-call")
    /// The file or directory does not exist.
    public static let notFound = Self("not-found")
    /// A stored file is not in the expected format.
    public static let corrupt = Self("corrupt")
    /// A stored file's MAC does not verify: something other than the platform wrote it.
    public static let tampered = Self("tampered")
    /// No counter with this id exists in the store.
    public static let unknownCounter = Self("unknown-counter")
    /// The counter belongs to another signer or product.
    public static let notOwner = Self("not-owner")
    /// The counter is at its maximum value and cannot be incremented.
    public static let counterExhausted = Self("counter-exhausted")
}
