import EnclavePlatform
import EnclaveProtocol
import Foundation
import Synchronization

/// Reads `descriptor` to end of file.
func readAll(_ descriptor: FileDescriptor) throws -> [UInt8] {
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor.rawValue, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        guard count >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        if count == 0 { return output }
        output += chunk[..<count]
    }
}

/// Writes all of `bytes` to `descriptor`.
func writeAll(_ descriptor: FileDescriptor, _ bytes: [UInt8]) throws {
    var offset = 0
    while offset < bytes.count {
        let count = bytes.withUnsafeBytes { write(descriptor.rawValue, $0.baseAddress! + offset, $0.count - offset) }
        guard count > 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        offset += count
    }
}

/// What an enclave child printed on stdout, and how it ended.
struct ChildOutput {
    let termination: Termination
    let standardOutput: String
    let mechanisms: Set<IsolationMechanism>
}

/// Spawns `image` with stdout captured, waits for it, and returns what it printed.
func runEnclave(
    _ image: ExecutableImage, _ arguments: [String], policy: LaunchPolicy = LaunchPolicy(),
    channels: EnclaveChannelSet? = nil
) throws -> ChildOutput {
    let channels = try channels ?? EnclaveChannelSet()
    let (output, mechanisms, process) = try {
        let pipe = try FileDescriptor.pipe()
        let process = try EnclaveProcess.spawn(
            image: image, arguments: arguments, environment: ["PATH": "/usr/bin:/bin"], endpoints: channels.enclave,
            policy: policy, standardStreams: StandardStreams(output: .descriptor(pipe.write)))
        return (pipe.read, process.mechanisms, process)
    }()
    let bytes = try readAll(output)
    return ChildOutput(
        termination: try process.wait(), standardOutput: String(decoding: bytes, as: UTF8.self),
        mechanisms: mechanisms)
}

/// The image of `/bin/sh`, shared by tests (measuring it once is enough).
let shellImage: ExecutableImage = try! ExecutableImage(path: "/bin/sh")

/// Runs `body` on a new thread; `join()` waits and rethrows what it threw.
final class BackgroundWork<Value: Sendable>: Sendable {
    private let result = Mutex<Result<Value, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws -> Value) {
        Thread { self.finish(Result { try body() }) }.start()
    }

    private func finish(_ outcome: Result<Value, any Error>) {
        result.withLock { $0 = outcome }
        done.signal()
    }

    func join() throws -> Value {
        done.wait()
        return try result.withLock { $0! }.get()
    }
}
