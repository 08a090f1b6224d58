internal import COpenSSL
public import CloisterErrors

/// An error from a cryptographic operation: a stable code for programs, a reason for people.
public struct CryptoError: CodedError {
    public typealias Code = ErrorCode<CryptoError>

    public let code: Code
    public let reason: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ reason: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }
}

extension ErrorCode where Domain == CryptoError {
    /// Input bytes are malformed (bad length, bad encoding, point not on the curve).
    public static let malformedInput = Self("malformed-input")
    /// A key is of the wrong type, curve or size for the operation.
    public static let invalidKey = Self("invalid-key")
    /// Authenticated decryption failed: wrong key, wrong associated data, or tampered ciphertext or tag.
    public static let authenticationFailure = Self("authentication-failure")
    /// A parameter is outside what the algorithm allows (lengths, counts, limits).
    public static let invalidParameter = Self("invalid-parameter")
    /// OpenSSL reported an internal failure (the reason carries its error queue).
    public static let library = Self("library-failure")
}

extension CryptoError {
    /// An error for a failed OpenSSL call, carrying (and clearing) OpenSSL's error queue.
    static func openSSL(
        _ call: String,
        code: Code = .library,
        file: String = #fileID,
        line: Int = #line
    ) -> CryptoError {
        CryptoError(code, "\(call) failed: \(drainOpenSSLErrors())", file: file, line: line)
    }
}

/// Empties OpenSSL's thread-local error queue into one readable line.
func drainOpenSSLErrors() -> String {
    var messages: [String] = []
    while true {
        let error = ERR_get_error()
        if error == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(error, &buffer, buffer.count)
        messages.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return messages.isEmpty ? "no detail from OpenSSL" : messages.joined(separator: "; ")
}

/// Throws unless an OpenSSL call returned 1 (its convention for success).
@inline(__always)
func requireOne(_ result: Int32, _ call: @autoclosure () -> String, file: String = #fileID, line: Int = #line) throws {
    guard result == 1 else { throw CryptoError.openSSL(call(), file: file, line: line) }
}

/// Unwraps an OpenSSL allocation or lookup, throwing with the error queue when it is null.
@inline(__always)
func requireNonNull<T>(_ value: T?, _ call: @autoclosure () -> String, file: String = #fileID, line: Int = #line) throws
    -> T
{
    guard let value else { throw CryptoError.openSSL(call(), file: file, line: line) }
    return value
}
