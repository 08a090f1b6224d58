import Foundation
import Glibc

/// A raw TCP connection to a server on 127.0.0.1 that sends exactly what a test says (half a request head, a byte
/// at a time, nothing at all) and observes when the server closes it. Calls block; run them off the concurrency
/// pool (`offPool`). Every wait is bounded.
public final class LoopbackConnection {
    private let descriptor: Int32

    /// Connects to 127.0.0.1:`port`.
    public init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Self.failure("socket") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = Self.failure("connect to 127.0.0.1:\(port)")
            close(descriptor)
            throw error
        }
    }

    deinit { close(descriptor) }

    /// Sends `text` (UTF-8); throws when the server already closed the connection.
    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard count > 0 else { throw Self.failure("send") }
            sent += count
        }
    }

    /// Sends `text` a byte every `interval` until the server closes the connection or `timeout` passes (after the
    /// last byte it only waits): the instant the close was seen, nil if the connection is still open.
    public func drip(_ text: String, every interval: Duration, timeout: Duration) -> ContinuousClock.Instant? {
        let deadline = ContinuousClock.now + timeout
        var remaining = Substring(text)
        while ContinuousClock.now < deadline {
            if let byte = remaining.first {
                remaining = remaining.dropFirst()
                guard (try? send(String(byte))) != nil else { return ContinuousClock.now }
            }
            if let closed = waitForClose(timeout: min(interval, deadline - ContinuousClock.now)).closed {
                return closed
            }
        }
        return nil
    }

    /// POSTs a body of `size` zero bytes to `path` as a client that stops uploading once the server answers or closes
    /// (as a browser or curl does), then reads the answer: what the server sent before closing or `timeout` passing.
    /// Unlike a client that must finish its upload first, it never fails because the server refused the rest.
    public func postRefusedUpload(_ path: String, size: Int, timeout: Duration) throws -> String {
        try send(
            "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/cbor\r\n"
                + "Content-Length: \(size)\r\nConnection: close\r\n\r\n")
        let chunk = [UInt8](repeating: 0, count: 1 << 16)
        var sent = 0
        while sent < size {
            var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 0) > 0 { break }  // the server answered (or closed): stop uploading
            let count = chunk[..<min(chunk.count, size - sent)].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard count > 0 else { break }  // the server closed its side: read what it answered
            sent += count
        }
        return String(decoding: waitForClose(timeout: timeout).received, as: UTF8.self)
    }

    /// Sends a GET of `path` whose head carries 100,000 bytes of one field, past the 80 KB SwiftNIO's HTTP/1 decoder
    /// (through Hummingbird) allows a head's fields in all, and returns what the server answered before it closed.
    public func getWithOversizedHead(_ path: String, timeout: Duration) -> String {
        let padding = String(repeating: "a", count: 100_000)
        try? send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: \(padding)\r\n\r\n")
        return String(decoding: waitForClose(timeout: timeout).received, as: UTF8.self)
    }

    /// Reads what the server sends until it closes the connection or `timeout` passes: the instant the close was
    /// seen (nil if the connection is still open) and the bytes received.
    public func waitForClose(timeout: Duration) -> (closed: ContinuousClock.Instant?, received: [UInt8]) {
        let deadline = ContinuousClock.now + timeout
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while ContinuousClock.now < deadline {
            let remaining = deadline - ContinuousClock.now
            let milliseconds = Int32(min(1_000, max(1, (remaining / .milliseconds(1)).rounded(.up))))
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&request, 1, milliseconds) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += buffer[..<count]
            } else if count == 0 || errno != EINTR {
                return (ContinuousClock.now, received)
            }
        }
        return (nil, received)
    }

    private static func failure(_ call: String) -> ToolError {
        ToolError(reason: "\(call): \(String(cString: strerror(errno))) (errno \(errno))")
    }
}

/// How long a server on 127.0.0.1:`port` kept each kind of slow client connected, in seconds (nil: still open
/// after `bound`). The four clients run at once.
public struct SlowClientTimings: Sendable {
    /// Sent half a request head, then nothing: from its first byte.
    public var halfHead: Double?
    /// Sent a request head a byte every 100 ms: from its first byte.
    public var drippedHead: Double?
    /// Sent one whole `GET`, read the answer, then nothing: from the request.
    public var idleAfterRequest: Double?
    /// Connected and sent nothing: from the connection.
    public var silent: Double?
    /// What the server answered the whole request.
    public var answer: String

    /// What contradicts a server closing slow heads after `header` seconds (and before `idle`: the header deadline
    /// did it, not the idle timer) and idle connections after `idle` seconds (not sooner), having answered the whole
    /// request; empty when nothing does.
    public func violations(header: Double, idle: Double) -> [String] {
        var found: [String] = []
        for (client, closed) in [("half head", halfHead), ("dripped head", drippedHead)] {
            guard let closed else {
                found.append("\(client): still open")
                continue
            }
            if closed < header * 0.9 || closed >= idle { found.append("\(client): closed after \(closed) s") }
        }
        for (client, closed) in [("idle after a request", idleAfterRequest), ("silent", silent)] {
            guard let closed else {
                found.append("\(client): still open")
                continue
            }
            if closed < idle * 0.9 { found.append("\(client): closed after \(closed) s") }
        }
        if !answer.hasPrefix("HTTP/1.1 200") { found.append("the whole request was answered \(answer.prefix(40))") }
        return found
    }

    /// Measures them against the server at `port`, asking for `path` in the whole request.
    public static func measure(port: Int, path: String, bound: Duration) async throws -> SlowClientTimings {
        let head = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: \(String(repeating: "a", count: 400))"
        @Sendable func seconds(_ from: ContinuousClock.Instant, _ to: ContinuousClock.Instant?) -> Double? {
            to.map { ($0 - from) / .seconds(1) }
        }
        async let half = offPool {
            let connection = try LoopbackConnection(port: port)
            let start = ContinuousClock.now
            try connection.send(head)
            return seconds(start, connection.waitForClose(timeout: bound).closed)
        }
        async let dripped = offPool {
            let connection = try LoopbackConnection(port: port)
            let start = ContinuousClock.now
            return seconds(start, connection.drip(head, every: .milliseconds(100), timeout: bound))
        }
        async let idle = offPool {
            let connection = try LoopbackConnection(port: port)
            let start = ContinuousClock.now
            try connection.send("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let (closed, received) = connection.waitForClose(timeout: bound)
            return (seconds(start, closed), String(decoding: received, as: UTF8.self))
        }
        async let silent = offPool {
            let connection = try LoopbackConnection(port: port)
            let start = ContinuousClock.now
            return seconds(start, connection.waitForClose(timeout: bound).closed)
        }
        let (idleAfterRequest, answer) = try await idle
        return SlowClientTimings(
            halfHead: try await half, drippedHead: try await dripped, idleAfterRequest: idleAfterRequest,
            silent: try await silent, answer: answer)
    }
}
