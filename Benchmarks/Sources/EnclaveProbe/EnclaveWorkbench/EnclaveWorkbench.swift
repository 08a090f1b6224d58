// A throwaway platform and a signed `builtin:echo` enclave, for EnclaveProbe and EnclaveBenchmarks.
import CloisterCrypto
import EnclavePlatform
import EnclaveProtocol
import Foundation

/// A simulated platform in a fresh temporary directory, with a signed manifest beside it (`builtin:echo` unless told): what a
/// launch, a sealer and a quote need, without touching the user's platform home. `remove()` deletes it all.
public final class EnclaveWorkbench: Sendable {
    /// The temporary directory holding the platform home and the manifest.
    public let directory: String
    public let platform: Platform
    public let manifest: SignedManifest
    public let launcher: EnclaveLauncher

    /// The manifest: the echo workload with one small sealed region, no trusted files, no seccomp list.
    public static let toml = """
        [loader]
        entrypoint = "builtin:echo"
        argv = []

        [enclave]
        name = "bench"
        size = "1M"
        product_id = 1
        svn = 1

        [enclave.regions]
        scratch = "64K"

        """

    /// Creates the platform (quotes signed on `curve`) and signs the manifest with a fresh P-256 key.
    /// `cloister-enclave` is found as `EnclaveExecutableLocator.current` finds it: `CLOISTER_ENCLAVE_EXECUTABLE`,
    /// else beside the running executable.
    public init(curve: ECCurve = .p256, manifest toml: String = EnclaveWorkbench.toml) throws {
        let base = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array("\(base)/cloister-bench-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: base])
        }
        directory = String(cString: created)
        do {
            let locator = EnclaveExecutableLocator.current
            platform = try Platform.initialize(home: PlatformHome(path: directory + "/home"), curve: curve)
            try toml.write(toFile: directory + "/bench.toml", atomically: true, encoding: .utf8)
            let signed = try SignedManifest.sign(
                manifestAt: directory + "/bench.toml", with: ECPrivateKey(generating: .p256), locator: locator)
            try signed.write(to: directory + "/bench.manifest.cose")
            // Loading from disk sets the directory the manifest's paths resolve against.
            manifest = try SignedManifest(contentsOf: directory + "/bench.manifest.cose")
            launcher = EnclaveLauncher(platform: platform, locator: locator)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// Deletes the directory (platform home and manifest).
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Launches the manifest's enclave with its output discarded.
    public func launchEnclave() throws -> LaunchedEnclave {
        try launcher.launch(manifest, standardStreams: StandardStreams(output: .null, error: .null))
    }

    /// Launches the echo enclave with its output discarded.
    public func launch() throws -> EchoEnclave {
        EchoEnclave(try launchEnclave())
    }

    /// The record the platform would hold for an enclave of this manifest quoting in `evidence`, for quoting
    /// without a launch.
    public func record(evidence: EvidenceKind = .cloister) throws -> EnclaveRecord {
        EnclaveRecord(
            enclaveID: "bench",
            identity: try identity(),
            canonicalManifest: manifest.canonicalManifest, mechanisms: [.landlock], platformID: platform.platformID,
            tcbLevel: platform.tcbLevel, backingStoreDirectory: directory, evidence: evidence)
    }

    /// The identity an enclave of this manifest runs as.
    public func identity() throws -> EnclaveIdentity {
        try EnclaveIdentity(
            measurement: manifest.measurement.bytes, signer: manifest.signer.bytes,
            productID: manifest.manifest.productID, svn: manifest.manifest.svn, debug: manifest.manifest.debug)
    }
}

/// A launched echo enclave and the host's caller into it.
public final class EchoEnclave: Sendable {
    public let launched: LaunchedEnclave
    public let caller: EnclaveCaller

    init(_ launched: LaunchedEnclave) {
        self.launched = launched
        self.caller = EnclaveCaller(channel: launched.host)
    }

    /// Closes the ECALL channel, which ends the enclave, and reaps it.
    public func close() throws {
        launched.host.shutdown()
        _ = try launched.wait()
    }
}
