import EnclaveProtocol
import Foundation
import Testing

@Suite struct ChannelTests {
    @Test("frames of 0 B, 1 B and 1 MiB round-trip intact", arguments: [0, 1, 1 << 20])
    func roundTrip(size: Int) throws {
        let (left, right) = try Channel.makePair()
        let message = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        // 1 MiB exceeds the socket buffer, so the sender needs a reader running at the same time.
        let sender = BackgroundWork { try left.send(message) }
        #expect(try right.receive() == message)
        try sender.join()
        let reply = BackgroundWork { try left.receive() }
        try right.send(message)
        #expect(try reply.join() == message)
    }

    @Test("a head and a payload sent apart arrive as one frame; their sum is what the maximum bounds")
    func headAndPayload() throws {
        let (left, right) = try Channel.makePair()
        let payload = (0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let sender = BackgroundWork {
            try left.send([1, 2, 3], followedBy: payload)
            try left.send([], followedBy: [9])
            try left.send([8], followedBy: [])
        }
        #expect(try right.receive() == [1, 2, 3] + payload)
        #expect(try right.receive() == [9])
        #expect(try right.receive() == [8])
        try sender.join()
        let (small, _) = try Channel.makePair(maximumFrameSize: 16)
        let tooLarge = #expect(throws: ChannelError.self) {
            try small.send([UInt8](repeating: 0, count: 8), followedBy: [UInt8](repeating: 0, count: 9))
        }
        #expect(tooLarge?.code == .frameTooLarge)
    }

    @Test("frames that arrive in one read are split correctly")
    func backToBackFrames() throws {
        let (left, right) = try Channel.makePair()
        let messages: [[UInt8]] = [[1], [], [2, 3, 4], Array(repeating: 9, count: 100_000), [5]]
        let sender = BackgroundWork { for message in messages { try left.send(message) } }
        for message in messages {
            #expect(try right.receive() == message)
        }
        try sender.join()
    }

    @Test("a frame past the maximum is refused by the sender, and read past by the receiver, which stays framed")
    func maximumFrameSize() throws {
        let (small, peer) = try Channel.makePair(maximumFrameSize: 16)
        let tooLarge = #expect(throws: ChannelError.self) { try small.send([UInt8](repeating: 0, count: 17)) }
        #expect(tooLarge?.code == .frameTooLarge)
        try small.send([UInt8](repeating: 0, count: 16))
        #expect(try peer.receive().count == 16)

        let generous = Channel(descriptor: try peer.descriptor.duplicate(), maximumFrameSize: 1 << 20)
        // One small, one oversized (past the read-ahead buffer, so it is read past in several reads), one small.
        let sender = BackgroundWork {
            try generous.send([7])
            try generous.send([UInt8](repeating: 1, count: 200_000))
            try generous.send([8, 9])
        }
        #expect(try small.receive() == [7])
        let refused = #expect(throws: ChannelError.self) { try small.receive() }
        #expect(refused?.code == .frameTooLarge)
        #expect(refused?.reason == "the peer announced 200000 bytes: the maximum frame is 16 bytes (frame discarded)")
        #expect(try small.receive() == [8, 9])
        try sender.join()
        // A descriptor sent with an oversized frame is closed with it, and does not attach to the next frame.
        try generous.send([UInt8](repeating: 2, count: 17), passing: try generous.descriptor.duplicate())
        try generous.send([3])
        #expect(throws: ChannelError.self) { try small.receive() }
        #expect(try small.receive() == [3])
    }

    @Test(
        "end of file between frames, inside a header and inside a payload",
        arguments: [
            ([], ChannelError.Code.closed),
            ([0, 0], .truncatedFrame),
            ([0, 0, 0, 10, 1, 2, 3], .truncatedFrame),
        ])
    func endOfFile(raw: [UInt8], expected: ChannelError.Code) throws {
        let (sender, receiver) = try Channel.makePair()
        try writeAll(sender.descriptor, raw)
        sender.shutdown()
        let error = #expect(throws: ChannelError.self) { try receiver.receive() }
        #expect(error?.code == expected)
    }

    @Test("the EOF error says how much of the frame arrived")
    func truncatedPayloadReason() throws {
        let (sender, receiver) = try Channel.makePair()
        try writeAll(sender.descriptor, [0, 0, 0, 10, 1, 2, 3])
        sender.shutdown()
        #expect(throws: ChannelError(.truncatedFrame, "the peer closed the channel after 3 of 10 payload bytes")) {
            try receiver.receive()
        }
    }

    @Test("a descriptor passed with a message works on the other side")
    func descriptorPassing() throws {
        let (left, right) = try Channel.makePair()
        let pipe = try FileDescriptor.pipe()
        try left.send(Array("here is a pipe".utf8), passing: pipe.write)
        let (message, received) = try right.receiveWithDescriptor()
        #expect(message == Array("here is a pipe".utf8))
        #expect(received.rawValue != pipe.write.rawValue)
        try writeAll(received, Array("through the passed end".utf8))
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { read(pipe.read.rawValue, $0.baseAddress, $0.count) }
        #expect(Array(buffer[..<max(count, 0)]) == Array("through the passed end".utf8))
        #expect(fcntl(received.rawValue, F_GETFD) & FD_CLOEXEC != 0)
    }

    @Test("descriptors stay with their frame when several frames arrive in one read")
    func descriptorsKeepTheirFrame() throws {
        let (left, right) = try Channel.makePair()
        let first = try FileDescriptor.pipe()
        let second = try FileDescriptor.pipe()
        try left.send([1])
        try left.send([2], passing: first.write)
        try left.send([3])
        try left.send([4], passing: second.write)
        #expect(try right.receive() == [1])
        let (two, twoDescriptor) = try right.receiveWithDescriptor()
        #expect(try right.receive() == [3])
        let (four, fourDescriptor) = try right.receiveWithDescriptor()
        #expect(two == [2] && four == [4])
        try writeAll(twoDescriptor, [0x22])
        try writeAll(fourDescriptor, [0x44])
        var byte: UInt8 = 0
        #expect(read(first.read.rawValue, &byte, 1) == 1 && byte == 0x22)
        #expect(read(second.read.rawValue, &byte, 1) == 1 && byte == 0x44)
    }

    @Test("asking for a descriptor that is not there, or getting one unasked, is an error")
    func descriptorMismatch() throws {
        let (left, right) = try Channel.makePair()
        try left.send([1])
        let missing = #expect(throws: ChannelError.self) { try right.receiveWithDescriptor() }
        #expect(missing?.code == .descriptorMismatch)
        try left.send([2], passing: try FileDescriptor.pipe().write)
        let unexpected = #expect(throws: ChannelError.self) { try right.receive() }
        #expect(unexpected?.code == .descriptorMismatch)
        try left.send([3])
        #expect(try right.receive() == [3])
    }

    @Test("shutdown wakes a blocked receiver with a closed error")
    func shutdownWakesReceiver() throws {
        let (left, _) = try Channel.makePair()
        let receiver = BackgroundWork { try left.receive() }
        usleep(50_000)
        left.shutdown()
        #expect(throws: ChannelError(.closed, "the peer closed the channel")) { try receiver.join() }
    }
}
