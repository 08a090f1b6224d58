/// A stable, machine-readable error code, scoped to the error type (`Domain`) that uses it.
public struct ErrorCode<Domain>: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(_ rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }
}

/// The shape of Cloister's errors: a stable code for programs, a reason for people, and where it was raised.
/// Two errors are equal when code and reason are; the source location is for diagnostics only.
public protocol CodedError: Error, Sendable, Hashable, CustomStringConvertible {
    associatedtype Domain
    var code: ErrorCode<Domain> { get }
    var reason: String { get }
}

extension CodedError {
    public var description: String { "\(code): \(reason)" }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code && lhs.reason == rhs.reason
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(reason)
    }
}
