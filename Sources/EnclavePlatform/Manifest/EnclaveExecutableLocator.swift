public import EnclaveProtocol
import Glibc

/// Finds the executable an entrypoint runs: for `builtin:` workloads the `cloister-enclave` executable, for `file:`
/// entrypoints the named file (relative to the manifest's directory).
public struct EnclaveExecutableLocator: Sendable, Hashable {
    /// The environment variable that names the `cloister-enclave` executable explicitly.
    public static let environmentVariable = "CLOISTER_ENCLAVE_EXECUTABLE"
    /// The executable that hosts the built-in workloads.
    public static let enclaveExecutableName = "cloister-enclave"

    /// Where `cloister-enclave` is, when the caller names it (the environment variable's value).
    public var enclaveExecutable: String?
    /// The directory of the running executable, searched for `cloister-enclave` otherwise.
    public var runningExecutableDirectory: String?

    /// A locator with explicit inputs (tests inject them).
    public init(enclaveExecutable: String?, runningExecutableDirectory: String?) {
        self.enclaveExecutable = enclaveExecutable
        self.runningExecutableDirectory = runningExecutableDirectory
    }

    /// The locator for this process: `CLOISTER_ENCLAVE_EXECUTABLE` if set, else the directory of `/proc/self/exe`.
    public static var current: EnclaveExecutableLocator {
        let override = getenv(environmentVariable).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let running =
            length > 0
            ? String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) : nil
        return EnclaveExecutableLocator(
            enclaveExecutable: override, runningExecutableDirectory: running.map(ManifestFile.directoryName(of:)))
    }

    /// The path of the executable `entrypoint` runs; relative `file:` paths resolve against `baseDirectory`.
    public func executablePath(
        for entrypoint: EnclaveManifest.Entrypoint, baseDirectory: String
    ) throws(ManifestError) -> String {
        switch entrypoint {
        case .file(let path):
            return EnclaveManifest.resolve(path, against: baseDirectory)
        case .builtin(let workload):
            let candidate =
                enclaveExecutable
                ?? runningExecutableDirectory.map { "\($0)/\(Self.enclaveExecutableName)" }
            guard let candidate, access(candidate, F_OK) == 0 else {
                throw ManifestError(
                    .executableNotFound,
                    "built-in workload '\(workload)' runs in \(Self.enclaveExecutableName), which is not at "
                        + "\(candidate ?? "an unknown location"); build it or set \(Self.environmentVariable)",
                    keyPath: "loader.entrypoint")
            }
            return candidate
        }
    }
}
