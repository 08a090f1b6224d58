import CloisterCBOR
public import CloisterErrors
import Synchronization

/// One message of the typed ECALL/OCALL protocol between host and enclave.
///
/// An ECALL is the host calling into the enclave; an OCALL is the enclave calling out to the host while an ECALL
/// runs. Each call carries an id that its result echoes. On the wire a message is a deterministic CBOR array
/// `[kind, id, name-or-status, payload]`.
public enum EnclaveCallMessage: Sendable, Hashable {
    case ecall(id: UInt64, function: String, argument: [UInt8])
    case ecallResult(id: UInt64, outcome: EnclaveCallOutcome)
    case ocall(id: UInt64, function: String, argument: [UInt8])
    case ocallResult(id: UInt64, outcome: EnclaveCallOutcome)

    fileprivate enum Kind: UInt64 {
        case ecall = 1, ecallResult, ocall, ocallResult
    }

    /// The deterministic CBOR encoding.
    public func encoded() throws -> [UInt8] {
        let fields: [CBORValue]
        switch self {
        case .ecall(let id, let function, let argument):
            fields = [.unsigned(Kind.ecall.rawValue), .unsigned(id), .text(function), .bytes(argument)]
        case .ocall(let id, let function, let argument):
            fields = [.unsigned(Kind.ocall.rawValue), .unsigned(id), .text(function), .bytes(argument)]
        case .ecallResult(let id, let outcome):
            fields = [.unsigned(Kind.ecallResult.rawValue), .unsigned(id)] + outcome.fields
        case .ocallResult(let id, let outcome):
            fields = [.unsigned(Kind.ocallResult.rawValue), .unsigned(id)] + outcome.fields
        }
        return try CBORValue.array(fields).encoded()
    }

    /// Parses a message, refusing anything that is not exactly one of the four shapes. A message is one channel
    /// frame, whose size the channel already bounds, so it is decoded whole whatever its size (up to the frame
    /// maximum, not the CBOR decoder's default); the depth and item limits still apply.
    public init(decoding bytes: [UInt8]) throws {
        if let call = Self.call(inPlace: bytes) {
            self = call
            return
        }
        let value = try CBORDecoder(limits: CBORLimits(maximumInputSize: bytes.count)).decode(bytes)
        guard let fields = value.arrayValue, fields.count == 4, let kindNumber = fields[0].uint64Value,
            let kind = Kind(rawValue: kindNumber), let id = fields[1].uint64Value
        else {
            throw EnclaveCallError(.malformedMessage, "not an ECALL/OCALL message: \(value)")
        }
        switch kind {
        case .ecall, .ocall:
            guard let function = fields[2].textValue, let argument = fields[3].bytesValue else {
                throw EnclaveCallError(.malformedMessage, "call \(id) lacks a function name or argument bytes")
            }
            self =
                kind == .ecall
                ? .ecall(id: id, function: function, argument: argument)
                : .ocall(id: id, function: function, argument: argument)
        case .ecallResult, .ocallResult:
            let outcome = try EnclaveCallOutcome(fields: Array(fields[2...]), id: id)
            self =
                kind == .ecallResult ? .ecallResult(id: id, outcome: outcome) : .ocallResult(id: id, outcome: outcome)
        }
    }
}

extension EnclaveCallMessage {
    /// The encoding of `.ecall(id, function, argument)` up to the argument's bytes: followed by them it is
    /// `encoded()`, so a caller sends the two without copying a large argument into one message.
    static func callHead(id: UInt64, function: String, argumentCount: Int) -> [UInt8] {
        var writer = CBORWriter()
        writer.writeHead(major: 4, argument: 4)
        writer.writeHead(major: 0, argument: Kind.ecall.rawValue)
        writer.writeHead(major: 0, argument: id)
        writer.writeText(function)
        writer.writeHead(major: 2, argument: UInt64(argumentCount))
        return writer.bytes
    }

    /// A call read in place, its argument copied once: the shape every `encoded()` call has. Arguments run to tens
    /// of megabytes (a batch of federation updates), and the general decoder copies them twice before the callee
    /// starts. Nil for anything else (results, or bytes not in that exact shape), which the general decoder reads or
    /// refuses.
    fileprivate static func call(inPlace bytes: [UInt8]) -> EnclaveCallMessage? {
        var cursor = CBORCursor(bytes)
        guard (try? cursor.readHead(major: 4)) == 4, let kind = (try? cursor.readUnsigned()).flatMap(Kind.init),
            kind == .ecall || kind == .ocall, let id = try? cursor.readUnsigned(),
            let function = try? cursor.readText(),
            let argument = try? cursor.readByteStringRange(), cursor.isAtEnd
        else { return nil }
        let copied = Array(bytes[argument])
        return kind == .ecall
            ? .ecall(id: id, function: function, argument: copied)
            : .ocall(id: id, function: function, argument: copied)
    }
}

/// The result of a call: the returned bytes, or the error the callee reported.
public enum EnclaveCallOutcome: Sendable, Hashable {
    case returned([UInt8])
    case failed(code: String, reason: String)

    var fields: [CBORValue] {
        switch self {
        case .returned(let bytes): [.bool(true), .bytes(bytes)]
        case .failed(let code, let reason): [.bool(false), .array([.text(code), .text(reason)])]
        }
    }

    init(fields: [CBORValue], id: UInt64) throws {
        switch (fields[0].boolValue, fields[1]) {
        case (true, .bytes(let bytes)):
            self = .returned(bytes)
        case (false, .array(let error)) where error.count == 2:
            guard let code = error[0].textValue, let reason = error[1].textValue else { fallthrough }
            self = .failed(code: code, reason: reason)
        default:
            throw EnclaveCallError(.malformedMessage, "result of call \(id) is neither returned bytes nor an error")
        }
    }
}

/// Why an ECALL or OCALL failed.
public struct EnclaveCallError: CodedError {
    public typealias Code = ErrorCode<EnclaveCallError>

    public let code: Code
    public let reason: String
    /// For `handlerFailed`: the code of the error the other side's handler threw (e.g. "checkpoint-rejected"), so
    /// a host can map it to an exit code or HTTP status.
    public let remoteCode: String?

    public init(_ code: Code, _ reason: String, remoteCode: String? = nil) {
        self.code = code
        self.reason = reason
        self.remoteCode = remoteCode
    }
}

extension ErrorCode where Domain == EnclaveCallError {
    /// Bytes on the channel are not a protocol message.
    public static let malformedMessage = Self("malformed-message")
    /// No handler is registered under the called name.
    public static let unknownFunction = Self("unknown-function")
    /// The handler threw; the reason carries its error.
    public static let handlerFailed = Self("handler-failed")
    /// A message arrived that the protocol does not allow at this point (a stray result, a wrong id).
    public static let protocolViolation = Self("protocol-violation")
}

/// Named call handlers: bytes in, bytes out. Errors they throw go back to the caller as `.failed`.
public struct EnclaveCallTable: Sendable {
    public typealias Handler = @Sendable ([UInt8]) throws -> [UInt8]
    private var handlers: [String: Handler] = [:]

    public init() {}

    /// Registers `handler` under `function`, replacing any earlier one.
    public mutating func register(_ function: String, _ handler: @escaping Handler) {
        handlers[function] = handler
    }

    /// Runs the handler for `function`, turning every failure into an outcome.
    func outcome(of function: String, argument: [UInt8]) -> EnclaveCallOutcome {
        guard let handler = handlers[function] else {
            return .failed(
                code: EnclaveCallError.Code.unknownFunction.rawValue, reason: "no handler named '\(function)'")
        }
        do {
            return .returned(try handler(argument))
        } catch let error as any CodedError {
            return .failed(code: "\(error.codeDescription)", reason: error.reason)
        } catch {
            return .failed(code: EnclaveCallError.Code.handlerFailed.rawValue, reason: "\(error)")
        }
    }
}

extension CodedError {
    /// The code's text, for errors crossing the channel.
    package var codeDescription: String { code.rawValue }
}

/// The host's side of the ECALL channel: calls into the enclave and serves the enclave's OCALLs meanwhile.
public final class EnclaveCaller: Sendable {
    private let channel: Channel
    private let ocalls: EnclaveCallTable
    private let nextID = Mutex<UInt64>(1)

    public init(channel: Channel, ocalls: EnclaveCallTable = EnclaveCallTable()) {
        self.channel = channel
        self.ocalls = ocalls
    }

    /// Calls `function` in the enclave with `argument` and waits for its result.
    public func call(_ function: String, _ argument: [UInt8] = []) throws -> [UInt8] {
        let id = nextID.withLock { value in
            defer { value += 1 }
            return value
        }
        try channel.send(
            EnclaveCallMessage.callHead(id: id, function: function, argumentCount: argument.count), followedBy: argument
        )
        while true {
            switch try EnclaveCallMessage(decoding: channel.receive()) {
            case .ecallResult(id, .returned(let bytes)):
                return bytes
            case .ecallResult(id, .failed(let code, let reason)):
                throw EnclaveCallError(
                    .handlerFailed, "ECALL '\(function)' failed in the enclave: \(code): \(reason)", remoteCode: code)
            case .ecallResult(EnclaveCallServer.unreadableMessageID, .failed(let code, let reason)):
                throw EnclaveCallError(
                    .malformedMessage, "the enclave could not read ECALL '\(function)': \(code): \(reason)",
                    remoteCode: code)
            case .ocall(let ocallID, let name, let ocallArgument):
                let outcome = ocalls.outcome(of: name, argument: ocallArgument)
                try channel.send(EnclaveCallMessage.ocallResult(id: ocallID, outcome: outcome).encoded())
            case let other:
                throw EnclaveCallError(.protocolViolation, "unexpected message while waiting for ECALL \(id): \(other)")
            }
        }
    }
}

/// The enclave's side of the ECALL channel: answers ECALLs and makes OCALLs to the host while one runs.
///
/// The host is the untrusted party, so nothing it sends ends the service: a frame past the channel's maximum, bytes
/// that are not an ECALL, an ECALL carrying a file descriptor, a handler's refusal and a result too large for one
/// frame are each answered with an error (`.failed`, for the call's id, or for `unreadableMessageID` when the
/// message names none), and the next ECALL is served.
public final class EnclaveCallServer: Sendable {
    /// The id of the error answering a message that has no readable call id (no caller's call uses it: ids start
    /// at 1).
    public static let unreadableMessageID: UInt64 = 0

    private let channel: Channel
    private let ecalls: EnclaveCallTable
    private let nextOCallID = Mutex<UInt64>(1)

    public init(channel: Channel, ecalls: EnclaveCallTable) {
        self.channel = channel
        self.ecalls = ecalls
    }

    /// Answers ECALLs until the host closes the channel (returns normally); throws only when the channel itself
    /// breaks (the host closed it inside a frame, descriptors went astray, or a system call failed).
    public func serve() throws {
        while true {
            let reply: EnclaveCallMessage
            do {
                let (bytes, descriptor) = try channel.receiveWithOptionalDescriptor()
                reply = answer(bytes, carriedDescriptor: descriptor != nil)
            } catch let error as ChannelError where error.code == .closed {
                return
            } catch let error as ChannelError where error.code == .frameTooLarge {
                reply = .ecallResult(
                    id: Self.unreadableMessageID, outcome: .failed(code: error.code.rawValue, reason: error.reason))
            }
            try channel.send(fitted(reply))
        }
    }

    /// The reply to one frame from the host (a descriptor it carried is closed when the caller drops it).
    private func answer(_ bytes: [UInt8], carriedDescriptor: Bool) -> EnclaveCallMessage {
        let unreadable = { (code: EnclaveCallError.Code, reason: String) in
            EnclaveCallMessage.ecallResult(
                id: Self.unreadableMessageID, outcome: .failed(code: code.rawValue, reason: reason))
        }
        let message: EnclaveCallMessage
        do {
            message = try EnclaveCallMessage(decoding: bytes)
        } catch {
            return unreadable(.malformedMessage, "\(bytes.count) bytes from the host are not an ECALL: \(error)")
        }
        guard case .ecall(let id, let function, let argument) = message else {
            return unreadable(.protocolViolation, "the host sent something other than an ECALL")
        }
        guard !carriedDescriptor else {
            return .ecallResult(
                id: id,
                outcome: .failed(
                    code: EnclaveCallError.Code.protocolViolation.rawValue,
                    reason: "ECALL '\(function)' came with a file descriptor; ECALLs carry bytes only"))
        }
        return .ecallResult(id: id, outcome: ecalls.outcome(of: function, argument: argument))
    }

    /// The encoded reply, or an error for the same call when the result does not fit in one frame.
    private func fitted(_ reply: EnclaveCallMessage) throws -> [UInt8] {
        let encoded = try reply.encoded()
        guard encoded.count > channel.maximumFrameSize, case .ecallResult(let id, _) = reply else { return encoded }
        return try EnclaveCallMessage.ecallResult(
            id: id,
            outcome: .failed(
                code: ChannelError.Code.frameTooLarge.rawValue,
                reason: "the result takes \(encoded.count) bytes; a frame carries at most \(channel.maximumFrameSize)")
        ).encoded()
    }

    /// Calls `function` in the host from inside an ECALL handler and waits for its result.
    public func ocall(_ function: String, _ argument: [UInt8] = []) throws -> [UInt8] {
        let id = nextOCallID.withLock { value in
            defer { value += 1 }
            return value
        }
        try channel.send(EnclaveCallMessage.ocall(id: id, function: function, argument: argument).encoded())
        switch try EnclaveCallMessage(decoding: channel.receive()) {
        case .ocallResult(id, .returned(let bytes)):
            return bytes
        case .ocallResult(id, .failed(let code, let reason)):
            throw EnclaveCallError(
                .handlerFailed, "OCALL '\(function)' failed in the host: \(code): \(reason)", remoteCode: code)
        case let other:
            throw EnclaveCallError(.protocolViolation, "unexpected message while waiting for OCALL \(id): \(other)")
        }
    }
}
