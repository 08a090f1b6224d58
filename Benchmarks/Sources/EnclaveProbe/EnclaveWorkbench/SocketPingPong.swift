import Foundation
import Glibc

/// The floor under an ECALL round trip: a frame echoed over an `AF_UNIX` `SOCK_STREAM` socketpair, with the framing
/// cost model of `Channel` (4-byte big-endian length and payload in one write; reads through a 64 KiB read-ahead
/// buffer, so a small frame costs one read) and none of the ECALL layer (CBOR, call table, ids, locks).
///
/// The far end runs `SocketPingPong.serveEcho` on a thread of this process or in another process. An ECALL crosses
/// processes, so the process peer is the fair comparison; the thread peer shows what the process boundary costs.
public final class SocketPingPong {
    /// Where the echoing end runs.
    public enum Peer {
        /// A thread of this process.
        case thread
        /// A process running `executable` with `arguments`, which must call `serveEcho(descriptor: 3)`.
        case process(executable: String, arguments: [String])
    }

    /// The descriptor a process peer finds its end on.
    public static let peerDescriptor: Int32 = 3

    private let descriptor: Int32
    private var reader: FrameReader
    private let finished: () throws -> Void

    public init(peer: Peer) throws {
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else {
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        descriptor = ends[0]
        reader = FrameReader(descriptor: ends[0])
        let far = ends[1]
        switch peer {
        case .thread:
            let done = DispatchSemaphore(value: 0)
            Thread {
                Self.serveEcho(descriptor: far)
                Glibc.close(far)
                done.signal()
            }.start()
            finished = { done.wait() }
        case .process(let executable, let arguments):
            defer { Glibc.close(far) }
            let child = try ChildProcess(
                executable: executable, arguments: arguments, descriptors: [Self.peerDescriptor: far])
            finished = { _ = try child.wait() }
        }
    }

    /// Sends `frame` (a 4-byte big-endian length, then that many bytes) and waits for it to come back.
    public func roundTrip(_ frame: [UInt8]) throws {
        try writeAll(descriptor, frame)
        guard let echoed = try reader.next(), echoed.count == frame.count else {
            throw POSIXError(.EPIPE)
        }
    }

    /// Ends the peer (it sees end of stream) and waits for it.
    public func close() throws {
        shutdown(descriptor, Int32(SHUT_RDWR))
        try finished()
        Glibc.close(descriptor)
    }

    /// A frame of `payloadSize` bytes, as `roundTrip` takes it.
    public static func frame(payloadSize: Int) -> [UInt8] {
        withUnsafeBytes(of: UInt32(payloadSize).bigEndian, Array.init) + [UInt8](repeating: 0x5a, count: payloadSize)
    }

    /// Echoes every frame read from `descriptor` back on it until end of stream or an error.
    public static func serveEcho(descriptor: Int32) {
        var reader = FrameReader(descriptor: descriptor)
        while let frame = try? reader.next(), (try? writeAll(descriptor, Array(frame))) != nil {}
    }
}

/// Reads whole frames through a read-ahead buffer: one `read` per frame when the frame arrives at once.
struct FrameReader {
    private let descriptor: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    private var start = 0
    private var end = 0

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    /// The next frame, header included; nil at end of stream.
    mutating func next() throws -> ArraySlice<UInt8>? {
        var needed = 4
        while true {
            if end - start >= 4 {
                let length = buffer[start..<start + 4].reduce(0) { $0 << 8 | Int($1) }
                guard 4 + length <= buffer.count else { throw POSIXError(.EMSGSIZE) }
                needed = 4 + length
            }
            if end - start >= needed {
                defer { start += needed }
                return buffer[start..<start + needed]
            }
            if start > 0 {
                buffer.withUnsafeMutableBytes { [start, end] bytes in
                    bytes.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
                }
                end -= start
                start = 0
            }
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + end, $0.count - end) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            if count == 0 { return nil }
            end += count
        }
    }
}

/// Writes all of `bytes`, continuing after partial writes.
func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) throws {
    var written = 0
    while written < bytes.count {
        let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
        if count < 0 && errno == EINTR { continue }
        guard count > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        written += count
    }
}
