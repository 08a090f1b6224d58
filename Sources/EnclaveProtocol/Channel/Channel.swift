internal import CEnclaveSandbox
import Glibc
import Synchronization

/// A length-prefixed message channel over a Unix stream socket, able to carry a file descriptor with a message.
///
/// A frame is a 4-byte big-endian header and the payload, written with one `sendmsg`. The header's low 31 bits are
/// the payload length; its top bit says the frame carries a descriptor (`SCM_RIGHTS`), which the kernel delivers no
/// later than the frame's first byte. Receiving reads ahead into a buffer, so a small frame costs one `recvmsg`. A
/// frame announced longer than the maximum is read past without being kept and refused (`frameTooLarge`), so the
/// stream stays framed and the next frame arrives intact.
///
/// Calls block. Sends are serialised with one lock and receives with another, so one thread may send while another
/// receives; messages are opaque bytes (the ECALL/OCALL layer encodes them).
public final class Channel: Sendable {
    /// The largest payload a channel accepts unless told otherwise: 64 MiB.
    public static let defaultMaximumFrameSize = 64 << 20

    private static let headerSize = 4
    private static let descriptorFlag: UInt32 = 1 << 31
    private static let readAheadSize = 64 << 10
    private static let socketBufferSize = 4 << 20
    private static let maximumDescriptorsPerRead: Int32 = 8

    /// The socket; pass it to another process with `send(_:passing:)` to hand over this end.
    public let descriptor: FileDescriptor
    /// The largest payload this end sends or accepts.
    public let maximumFrameSize: Int

    private let sendLock = Mutex(())
    private let receiver = Mutex(Receiver())

    /// Wraps a connected stream socket (one end of `makePair`, or a descriptor received from a channel).
    public init(descriptor: FileDescriptor, maximumFrameSize: Int = Channel.defaultMaximumFrameSize) {
        precondition(maximumFrameSize >= 0 && maximumFrameSize < Int(Channel.descriptorFlag))
        self.descriptor = descriptor
        self.maximumFrameSize = maximumFrameSize
    }

    /// Two connected ends of a new `AF_UNIX` `SOCK_STREAM` socket pair (close-on-exec).
    public static func makePair(
        maximumFrameSize: Int = Channel.defaultMaximumFrameSize
    ) throws -> (Channel, Channel) {
        var ends: [Int32] = [-1, -1]
        let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, type, 0, &ends) == 0 else { throw ChannelError.systemCall("socketpair") }
        // Frames run to tens of megabytes (a batch of federation updates); with the default ~200 KiB buffer the
        // sender copies a few pages, wakes the reader and sleeps, thousands of times a frame. The kernel caps the
        // request at net.core.wmem_max / rmem_max, and a refusal only leaves the default.
        var size = Int32(Channel.socketBufferSize)
        for end in ends {
            for option in [SO_SNDBUF, SO_RCVBUF] {
                _ = setsockopt(end, SOL_SOCKET, option, &size, socklen_t(MemoryLayout<Int32>.size))
            }
        }
        return (
            Channel(descriptor: FileDescriptor(adopting: ends[0]), maximumFrameSize: maximumFrameSize),
            Channel(descriptor: FileDescriptor(adopting: ends[1]), maximumFrameSize: maximumFrameSize)
        )
    }

    /// Sends one frame.
    public func send(_ message: [UInt8]) throws {
        try sendFrame([], message, passing: -1)
    }

    /// Sends one frame holding `head` followed by `payload`, without joining them first: a message that wraps
    /// megabytes (an ECALL's argument) goes out with no copy of them.
    public func send(_ head: [UInt8], followedBy payload: [UInt8]) throws {
        try sendFrame(head, payload, passing: -1)
    }

    /// Sends one frame carrying a duplicate of `passed`; the receiver gets it from `receiveWithDescriptor()`.
    public func send(_ message: [UInt8], passing passed: FileDescriptor) throws {
        try withExtendedLifetime(passed) { try sendFrame([], message, passing: passed.rawValue) }
    }

    /// Receives one frame; a frame that carries a descriptor is an error (the descriptor is closed).
    public func receive() throws -> [UInt8] {
        let (message, passed) = try receiveFrame()
        guard passed == nil else {
            throw ChannelError(.descriptorMismatch, "received a frame of \(message.count) bytes with a descriptor")
        }
        return message
    }

    /// Receives one frame that carries a descriptor; a frame without one is an error.
    public func receiveWithDescriptor() throws -> (message: [UInt8], descriptor: FileDescriptor) {
        let (message, passed) = try receiveFrame()
        guard let passed else {
            throw ChannelError(.descriptorMismatch, "expected a descriptor with a frame of \(message.count) bytes")
        }
        return (message, passed)
    }

    /// Receives one frame and the descriptor it carries, if any (a reply that is either a result with a descriptor
    /// or an error without one).
    public func receiveWithOptionalDescriptor() throws -> (message: [UInt8], descriptor: FileDescriptor?) {
        try receiveFrame()
    }

    /// Shuts the socket down both ways: blocked and later calls here and at the peer see the channel closed.
    public func shutdown() {
        _ = Glibc.shutdown(descriptor.rawValue, Int32(SHUT_RDWR))
    }

    // MARK: - Sending

    /// Sends the frame `head + payload`: the frame header and `head` in one small buffer, `payload` where it is.
    private func sendFrame(_ head: [UInt8], _ payload: [UInt8], passing passed: Int32) throws {
        let length = head.count + payload.count
        guard length <= maximumFrameSize else {
            throw ChannelError(
                .frameTooLarge, "cannot send \(length) bytes: the maximum frame is \(maximumFrameSize) bytes")
        }
        let header = (UInt32(length) | (passed >= 0 ? Channel.descriptorFlag : 0)).bigEndian
        let first = withUnsafeBytes(of: header, Array.init) + head
        try sendLock.withLock { _ in
            try first.withUnsafeBytes { first in
                try payload.withUnsafeBytes { payload in
                    try sendAll(header: first, payload: payload, passing: passed)
                }
            }
        }
    }

    /// Writes `header` (the frame header and any head of the message) and `payload`, continuing after a partial
    /// write; the descriptor goes with the first byte.
    private func sendAll(header: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, passing: Int32) throws {
        var passed = passing
        var offset = 0  // bytes of header + payload already sent
        let total = header.count + payload.count
        while offset < total {
            let sent: Int
            if offset < header.count {
                sent = cloister_channel_send(
                    descriptor.rawValue, header.baseAddress! + offset, header.count - offset,
                    payload.baseAddress, payload.count, passed)
            } else {
                let payloadOffset = offset - header.count
                sent = cloister_channel_send(
                    descriptor.rawValue, payload.baseAddress! + payloadOffset, payload.count - payloadOffset,
                    nil, 0, passed)
            }
            guard sent >= 0 else { throw ChannelError.systemCall("sendmsg on fd \(descriptor.rawValue)") }
            offset += sent
            passed = -1
        }
    }

    // MARK: - Receiving

    /// Read-ahead bytes and descriptors received but not yet handed out.
    private struct Receiver {
        var buffer = [UInt8](repeating: 0, count: Channel.readAheadSize)
        var start = 0
        var end = 0
        var descriptors: [FileDescriptor] = []
        /// Set when the stream lost frame alignment; every later receive fails the same way.
        var failure: ChannelError?

        var available: Int { end - start }
    }

    private func receiveFrame() throws -> ([UInt8], FileDescriptor?) {
        try receiver.withLock { state in
            if let failure = state.failure { throw failure }
            while state.available < Channel.headerSize {
                if state.start > 0 {
                    state.buffer.withUnsafeMutableBytes { bytes in
                        bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[state.start..<state.end]))
                    }
                    state.end -= state.start
                    state.start = 0
                }
                let count = try state.buffer.withUnsafeMutableBytes { bytes in
                    try receiveSome(
                        into: bytes.baseAddress! + state.end, count: bytes.count - state.end,
                        descriptors: &state.descriptors, failure: &state.failure)
                }
                if count == 0 {
                    if state.available == 0 { throw ChannelError(.closed, "the peer closed the channel") }
                    throw ChannelError(
                        .truncatedFrame, "the peer closed the channel after \(state.available) bytes of a frame header")
                }
                state.end += count
            }
            let start = state.start
            let raw = state.buffer.withUnsafeBytes { bytes in
                UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: start, as: UInt32.self))
            }
            let length = Int(raw & ~Channel.descriptorFlag)
            state.start += Channel.headerSize
            guard length <= maximumFrameSize else {
                // Read past the payload unkept, so the stream stays framed and the next frame can be received.
                try discardPayload(length: length, &state)
                if raw & Channel.descriptorFlag != 0, !state.descriptors.isEmpty { state.descriptors.removeFirst() }
                throw ChannelError(
                    .frameTooLarge,
                    "the peer announced \(length) bytes: the maximum frame is \(maximumFrameSize) bytes (frame discarded)"
                )
            }
            let message = try readPayload(length: length, &state)
            guard raw & Channel.descriptorFlag != 0 else { return (message, nil) }
            guard !state.descriptors.isEmpty else {
                throw ChannelError(.descriptorMismatch, "a frame announced a descriptor that did not arrive")
            }
            return (message, state.descriptors.removeFirst())
        }
    }

    /// The payload: from the read-ahead buffer when it is all there, else read straight into the message.
    private func readPayload(length: Int, _ state: inout Receiver) throws -> [UInt8] {
        if state.available >= length {
            let message = Array(state.buffer[state.start..<state.start + length])
            state.start += length
            return message
        }
        return try [UInt8](unsafeUninitializedCapacity: length) { message, initialized in
            let buffered = state.available
            state.buffer.withUnsafeBytes { bytes in
                UnsafeMutableRawBufferPointer(message).copyMemory(
                    from: UnsafeRawBufferPointer(rebasing: bytes[state.start..<state.end]))
            }
            state.start = 0
            state.end = 0
            initialized = buffered
            while initialized < length {
                let count = try receiveSome(
                    into: UnsafeMutableRawPointer(message.baseAddress! + initialized), count: length - initialized,
                    descriptors: &state.descriptors, failure: &state.failure)
                guard count > 0 else {
                    throw ChannelError(
                        .truncatedFrame, "the peer closed the channel after \(initialized) of \(length) payload bytes")
                }
                initialized += count
            }
        }
    }

    /// Reads `length` payload bytes and drops them, keeping whatever follows them in the read-ahead buffer.
    private func discardPayload(length: Int, _ state: inout Receiver) throws {
        var remaining = length
        while true {
            let buffered = min(remaining, state.available)
            state.start += buffered
            remaining -= buffered
            if remaining == 0 { return }
            state.start = 0
            state.end = try state.buffer.withUnsafeMutableBytes { bytes in
                try receiveSome(
                    into: bytes.baseAddress!, count: bytes.count, descriptors: &state.descriptors,
                    failure: &state.failure)
            }
            guard state.end > 0 else {
                throw ChannelError(
                    .truncatedFrame,
                    "the peer closed the channel after \(length - remaining) of \(length) payload bytes of an oversized frame"
                )
            }
        }
    }

    /// One `recvmsg`; descriptors that arrive are queued in order.
    private func receiveSome(
        into address: UnsafeMutableRawPointer, count: Int, descriptors: inout [FileDescriptor],
        failure: inout ChannelError?
    ) throws -> Int {
        let maximum = Int(Channel.maximumDescriptorsPerRead)
        return try withUnsafeTemporaryAllocation(of: Int32.self, capacity: maximum) { received in
            var receivedCount: Int32 = 0
            var truncated: Int32 = 0
            let result = cloister_channel_receive(
                descriptor.rawValue, address, count, received.baseAddress, Channel.maximumDescriptorsPerRead,
                &receivedCount, &truncated)
            guard result >= 0 else { throw ChannelError.systemCall("recvmsg on fd \(descriptor.rawValue)") }
            for index in 0..<Int(receivedCount) {
                descriptors.append(FileDescriptor(adopting: received[index]))
            }
            guard truncated == 0 else {
                let error = ChannelError(.descriptorMismatch, "the peer sent more descriptors than frames announced")
                failure = error
                throw error
            }
            return result
        }
    }
}
