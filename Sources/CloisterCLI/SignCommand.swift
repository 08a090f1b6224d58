public import ArgumentParser
import Attestation
import CloisterCrypto
import EnclavePlatform
import EnclaveProtocol
import Foundation

/// `cloister sign MANIFEST --key KEY [-o FILE]`: hashes the trusted files and the executable, computes the
/// measurement and writes the signed manifest.
public struct SignCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sign",
        abstract: "Sign an enclave manifest: fill trusted-file hashes, measure, write a COSE_Sign1.",
        discussion: """
            Writes NAME.manifest.cose beside NAME.toml unless -o names the output. Relative paths in the manifest \
            resolve against the directory of the signed manifest, so keep it beside the files it names. The \
            libraries this host's loader maps to run the executable are listed, hashed and signed with it: sign \
            where the enclave will run, or on a host with the same libraries. A manifest whose trusted files, \
            allowed paths or libraries reach the platform home (inside, equal to or above it, through symbolic \
            links or `..`, another process's /proc entry, or a hard link to a platform file) is refused. \
            Exit status: 0 signed, 64 bad arguments (unreadable or invalid key), 65 invalid manifest or input, \
            1 internal error.
            """
    )

    @Argument(help: "The TOML manifest to sign.")
    var manifest: String

    @Option(help: "The signer's EC private key (P-256 signs ES256, P-384 signs ES384), PEM.")
    var key: String

    @Option(name: [.customShort("o"), .customLong("output")], help: "Where to write the signed manifest.")
    var output: String?

    @Option(
        help: """
            The platform home the manifest must not reach (default: $CLOISTER_HOME, else ~/.cloister); \
            launching checks it again.
            """)
    var home: String?

    public init() {}

    public func run() async throws {
        let signingKey = try CommandInput.privateKey(key, "--key")
        let outputPath = output ?? SignedManifest.defaultOutputPath(forManifestAt: manifest)
        try reportingErrors {
            let boundary = try HomeBoundary(
                home: PlatformHome.resolve(home, environment: ProcessInfo.processInfo.environment))
            let signed = try SignedManifest.sign(
                manifestAt: manifest, with: signingKey, locator: .current, boundary: boundary)
            try signed.write(to: outputPath)
            print("wrote \(outputPath)")
            print("measurement \(signed.measurement.hex)")
            let note = signed.isDevelopmentSigner ? " (the public development key: never trust it in production)" : ""
            print("signer \(signed.signer.hex)\(note)")
            if directory(of: outputPath) != directory(of: manifest), signed.manifest.hasRelativePaths {
                printToStandardError(
                    "warning: \(outputPath) is not beside \(manifest); its relative paths resolve against "
                        + "\(directory(of: outputPath))")
            }
        }
    }

    private func directory(of path: String) -> String {
        URL(fileURLWithPath: path).deletingLastPathComponent().standardizedFileURL.path
    }
}

extension EnclaveManifest {
    /// Whether any path the manifest names is relative to its directory.
    var hasRelativePaths: Bool {
        var paths = trustedFiles.map(\.path) + allowedPaths.map(\.path)
        if case .file(let path) = entrypoint { paths.append(path) }
        return paths.contains { !$0.hasPrefix("/") }
    }
}
