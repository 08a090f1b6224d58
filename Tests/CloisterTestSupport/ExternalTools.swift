public import Foundation

/// Locations of things tests use: the Python interop venv, the third-party vectors in `Tests/Vectors`, helper scripts.
public enum TestEnvironment {
    /// The directory holding this test binary, where SwiftPM also puts `cloister` and `cloister-enclave`.
    public static let productsDirectory: String = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        .deletingLastPathComponent().path

    /// The package root (this file lives in `Tests/CloisterTestSupport/`).
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Python interpreter of the interop venv (`CLOISTER_PYTHON`, set by `make test`), if there is one.
    public static var python: String? {
        guard let path = ProcessInfo.processInfo.environment["CLOISTER_PYTHON"],
            FileManager.default.isExecutableFile(atPath: path)
        else { return nil }
        return path
    }

    /// A third-party test vector or reference value under `Tests/Vectors/` (sources and licences in its README).
    public static func vector(_ relativePath: String) -> URL {
        packageRoot.appendingPathComponent("Tests/Vectors").appendingPathComponent(relativePath)
    }

    /// A script under `Tests/Interop/`.
    public static func interopScript(_ name: String) -> String {
        packageRoot.appendingPathComponent("Tests/Interop").appendingPathComponent(name).path
    }

    /// A fresh empty directory under the system temporary directory.
    public static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("cloister-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// What an external program printed and how it ended.
public struct ToolOutput: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
}

/// Runs blocking code (an external tool, a client whose HTTP calls wait) off the concurrency pool, so the wait does
/// not hold a thread that a server under test needs.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}

/// Runs an external program (python, openssl) to completion with a bounded wait.
public func runTool(
    _ executable: String,
    _ arguments: [String],
    input: [UInt8]? = nil,
    timeoutSeconds: Double = 120
) throws -> ToolOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
    process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
    let outPipe = Pipe()
    let errPipe = Pipe()
    let inPipe = Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    process.standardInput = inPipe
    try process.run()
    if let input { inPipe.fileHandleForWriting.write(Data(input)) }
    try inPipe.fileHandleForWriting.close()
    let deadline = Date().addingTimeInterval(timeoutSeconds)
    // Read both pipes concurrently with the wait so a chatty tool never blocks on a full pipe.
    let outData = LockedData()
    let errData = LockedData()
    let group = DispatchGroup()
    for (pipe, sink) in [(outPipe, outData), (errPipe, errData)] {
        group.enter()
        DispatchQueue.global().async {
            sink.set(pipe.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
    }
    while process.isRunning && Date() < deadline { usleep(10_000) }
    if process.isRunning {
        process.terminate()
        process.waitUntilExit()
        throw ToolError(reason: "\(executable) \(arguments.joined(separator: " ")) timed out after \(timeoutSeconds) s")
    }
    process.waitUntilExit()
    group.wait()
    return ToolOutput(
        status: process.terminationStatus,
        standardOutput: String(decoding: outData.value, as: UTF8.self),
        standardError: String(decoding: errData.value, as: UTF8.self)
    )
}

/// An external tool failed in a way the test cannot interpret.
public struct ToolError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }

    public init(reason: String) {
        self.reason = reason
    }
}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ newValue: Data) { lock.withLock { data = newValue } }
    var value: Data { lock.withLock { data } }
}

/// The `cloister` executable of this build.
public let cloisterExecutable = TestEnvironment.productsDirectory + "/cloister"

/// A platform home made by `cloister platform init` and `Manifests/NAME.toml` signed by `cloister sign` with the
/// development key, in a fresh temporary directory: where a CLI test of an enclave workload starts. The environment
/// points `CLOISTER_HOME` at the platform.
public func signedManifestThroughCLI(_ name: String) throws -> (
    directory: URL, environment: [String: String], manifest: String
) {
    let directory = try TestEnvironment.temporaryDirectory("cli-\(name)")
    let home = directory.appendingPathComponent("home").path
    let toml = directory.appendingPathComponent("\(name).toml")
    try FileManager.default.copyItem(
        at: TestEnvironment.packageRoot.appendingPathComponent("Manifests/\(name).toml"), to: toml)
    let key = TestEnvironment.packageRoot.appendingPathComponent("Keys/dev-signer.pem").path
    for arguments in [
        ["platform", "init", "--amd-key-bits", "2048", "--home", home], ["sign", toml.path, "--key", key],
    ] {
        let output = try runTool(cloisterExecutable, arguments)
        guard output.status == 0 else {
            throw CocoaError(
                .executableLoad, userInfo: [NSLocalizedDescriptionKey: "cloister \(arguments): \(output.standardError)"]
            )
        }
    }
    return (directory, ["CLOISTER_HOME": home], directory.appendingPathComponent("\(name).manifest.cose").path)
}

/// Runs `cloister ARGUMENTS` with `environment` added to this process's.
public func runCloister(_ arguments: [String], _ environment: [String: String]) throws -> ToolOutput {
    try runTool("/usr/bin/env", environment.map { "\($0.key)=\($0.value)" } + [cloisterExecutable] + arguments)
}
