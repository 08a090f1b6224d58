import CloisterCBOR
import EnclaveProtocol
import Foundation
import Testing

@Suite("Typed ECALL/OCALL protocol")
struct EnclaveCallTests {
    /// Runs an enclave-side server on its own thread over a fresh channel pair; returns the host's caller.
    private func startServer(
        _ table: @escaping @Sendable () -> EnclaveCallTable
    ) throws -> (EnclaveCaller, Channel) {
        let (hostEnd, enclaveEnd) = try Channel.makePair()
        Thread {
            try? EnclaveCallServer(channel: enclaveEnd, ecalls: table()).serve()
            enclaveEnd.shutdown()
        }.start()
        return (EnclaveCaller(channel: hostEnd), hostEnd)
    }

    @Test("every message shape round-trips through its CBOR encoding")
    func encoding() throws {
        let messages: [EnclaveCallMessage] = [
            .ecall(id: 1, function: "echo", argument: [1, 2, 3]),
            .ecallResult(id: 1, outcome: .returned([])),
            .ocall(id: 7, function: "log", argument: Array("hi".utf8)),
            .ocallResult(id: 7, outcome: .failed(code: "x", reason: "y")),
        ]
        for message in messages {
            #expect(try EnclaveCallMessage(decoding: message.encoded()) == message)
        }
        // Not in the shortest form `encoded()` writes (id 5 in two bytes, the argument's length in two): the
        // in-place reader declines it and the general decoder reads the same call.
        let longhand: [UInt8] = [0x84, 0x01, 0x18, 0x05, 0x61, 0x66, 0x58, 0x01, 0x2a]
        #expect(try EnclaveCallMessage(decoding: longhand) == .ecall(id: 5, function: "f", argument: [0x2a]))
    }

    @Test(
        "a caller sends the call's head and its argument as one frame, byte for byte the call's encoding",
        arguments: [0, 23, 24, 255, 256, 65_535, 65_536, 3 << 20])
    func callFrame(size: Int) throws {
        let (hostEnd, enclaveEnd) = try Channel.makePair()
        let argument = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let caller = BackgroundWork { try EnclaveCaller(channel: hostEnd).call("fedavg.submitBatch", argument) }
        let frame = try enclaveEnd.receive()
        #expect(
            frame == (try EnclaveCallMessage.ecall(id: 1, function: "fedavg.submitBatch", argument: argument).encoded())
        )
        try enclaveEnd.send(try EnclaveCallMessage.ecallResult(id: 1, outcome: .returned([4])).encoded())
        #expect(try caller.join() == [4])
    }

    @Test("malformed messages are refused with a reason")
    func malformed() throws {
        let bad: [CBORValue] = [
            .array([.unsigned(9), .unsigned(1), .text("f"), .bytes([])]),
            .array([.unsigned(1), .unsigned(1), .bytes([]), .bytes([])]),
            .array([.unsigned(2), .unsigned(1), .bool(true), .text("not bytes")]),
            .array([.unsigned(1), .unsigned(1), .text("f")]),
            .map([]),
        ]
        for value in bad {
            #expect(throws: EnclaveCallError.self) { try EnclaveCallMessage(decoding: value.encoded()) }
        }
        #expect(throws: CBORError.self) { try EnclaveCallMessage(decoding: [0x84, 0x01]) }
    }

    @Test("ECALLs return their handler's bytes; unknown functions and handler errors come back as errors")
    func calls() throws {
        let (caller, hostEnd) = try startServer {
            var table = EnclaveCallTable()
            table.register("echo") { $0 }
            table.register("fail") { _ in throw EnclaveCallError(.handlerFailed, "refused on purpose") }
            return table
        }
        defer { hostEnd.shutdown() }
        #expect(try caller.call("echo", [1, 2, 3]) == [1, 2, 3])
        #expect(try caller.call("echo", []) == [])
        let large = [UInt8](repeating: 0xa5, count: 1 << 20)
        #expect(try caller.call("echo", large) == large)
        #expect(throws: EnclaveCallError.self) { try caller.call("missing") }
        do {
            _ = try caller.call("fail")
            Issue.record("a failing handler returned normally")
        } catch let error as EnclaveCallError {
            #expect(error.reason.contains("refused on purpose"))
        }
        #expect(try caller.call("echo", [9]) == [9])
    }

    @Test("bad input from the host is answered with an error, never by ending the server; the next ECALL is served")
    func badInput() throws {
        let (hostEnd, enclaveEnd) = try Channel.makePair(maximumFrameSize: 4096)
        let server = BackgroundWork {
            var table = EnclaveCallTable()
            table.register("echo") { $0 }
            table.register("grow") { _ in [UInt8](repeating: 1, count: 5000) }
            try EnclaveCallServer(channel: enclaveEnd, ecalls: table).serve()
        }
        func reply(_ send: () throws -> Void) throws -> (id: UInt64, code: String, reason: String)? {
            try send()
            guard
                case .ecallResult(let id, .failed(let code, let reason)) = try EnclaveCallMessage(
                    decoding: hostEnd.receive())
            else { return nil }
            return (id, code, reason)
        }
        let unreadable = EnclaveCallServer.unreadableMessageID
        let garbage = try reply { try hostEnd.send([0xff, 0x00, 0x13]) }
        #expect(garbage?.id == unreadable && garbage?.code == "malformed-message")
        #expect(garbage?.reason.contains("3 bytes from the host are not an ECALL") == true)
        let stray = try reply {
            try hostEnd.send(EnclaveCallMessage.ecallResult(id: 5, outcome: .returned([])).encoded())
        }
        #expect(stray?.id == unreadable && stray?.code == "protocol-violation")
        let withDescriptor = try reply {
            try hostEnd.send(
                EnclaveCallMessage.ecall(id: 7, function: "echo", argument: [1]).encoded(),
                passing: try hostEnd.descriptor.duplicate())
        }
        #expect(withDescriptor?.id == 7 && withDescriptor?.reason.contains("file descriptor") == true)
        let generous = Channel(descriptor: try hostEnd.descriptor.duplicate(), maximumFrameSize: 1 << 20)
        let oversized = try reply { try generous.send([UInt8](repeating: 0, count: 100_000)) }
        #expect(oversized?.id == unreadable && oversized?.code == "frame-too-large")
        let tooLargeResult = try reply {
            try hostEnd.send(EnclaveCallMessage.ecall(id: 8, function: "grow", argument: []).encoded())
        }
        #expect(tooLargeResult?.id == 8 && tooLargeResult?.code == "frame-too-large")
        #expect(try EnclaveCaller(channel: hostEnd).call("echo", [9]) == [9])
        hostEnd.shutdown()
        try server.join()  // the server returned normally when the host closed, having thrown nothing before
    }

    @Test("a message past the CBOR decoder's default 16 MiB is read whole: the channel's frame bounds it")
    func largeMessage() throws {
        let (caller, hostEnd) = try startServer {
            var table = EnclaveCallTable()
            table.register("echo") { $0 }
            return table
        }
        defer { hostEnd.shutdown() }
        let argument = [UInt8](repeating: 0x5a, count: (16 << 20) + 1)
        #expect(try caller.call("echo", argument) == argument)
    }

    @Test("an error for no readable call reaches the caller as malformed-message naming its ECALL")
    func unreadableReply() throws {
        let (hostEnd, enclaveEnd) = try Channel.makePair()
        defer { hostEnd.shutdown() }
        let enclave = BackgroundWork {
            _ = try enclaveEnd.receive()
            try enclaveEnd.send(
                EnclaveCallMessage.ecallResult(
                    id: EnclaveCallServer.unreadableMessageID,
                    outcome: .failed(code: "malformed-message", reason: "not an ECALL")
                ).encoded())
        }
        let error = #expect(throws: EnclaveCallError.self) { try EnclaveCaller(channel: hostEnd).call("echo", [1]) }
        #expect(error?.code == .malformedMessage && error?.remoteCode == "malformed-message")
        #expect(error?.reason == "the enclave could not read ECALL 'echo': malformed-message: not an ECALL")
        try enclave.join()
    }

    @Test("an ECALL handler can make OCALLs that the host answers while it waits")
    func ocalls() throws {
        let (hostEnd, enclaveEnd) = try Channel.makePair()
        defer { hostEnd.shutdown() }
        let thread = Thread {
            let holder = ServerHolder()
            var table = EnclaveCallTable()
            table.register("greet") { name in
                let prefix = try holder.server!.ocall("prefix", [])
                return prefix + name
            }
            holder.server = EnclaveCallServer(channel: enclaveEnd, ecalls: table)
            try? holder.server!.serve()
            enclaveEnd.shutdown()
        }
        thread.start()
        var hostServices = EnclaveCallTable()
        hostServices.register("prefix") { _ in Array("hello, ".utf8) }
        let caller = EnclaveCaller(channel: hostEnd, ocalls: hostServices)
        #expect(try caller.call("greet", Array("enclave".utf8)) == Array("hello, enclave".utf8))
    }
}

/// Lets a handler reach the server that runs it (set once before serving starts).
private final class ServerHolder: @unchecked Sendable {
    var server: EnclaveCallServer?
}
