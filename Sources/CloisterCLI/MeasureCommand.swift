public import ArgumentParser
import EnclavePlatform
import EnclaveProtocol
import Foundation

/// `cloister measure MANIFEST [--json]`: prints the enclave measurement of a TOML or signed manifest.
public struct MeasureCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "measure",
        abstract: "Print the measurement (hex) of a TOML manifest or a signed .cose manifest.",
        discussion: """
            For a TOML manifest the trusted files, the executable and the libraries this host's loader maps to run \
            it are hashed on the fly; a signed manifest is verified and its signed measurement printed. Exit status: \
            0 measured, 64 bad arguments, 65 invalid manifest or input, 1 internal error.
            """
    )

    @Argument(help: "The manifest: NAME.toml, or a signed NAME.manifest.cose.")
    var manifest: String

    @Flag(
        help: """
            Print {"measurement", "signer", "reference_measurements", "reference_signers", "libraries", \
            "trusted_files"} as JSON (the reference values: every evidence kind's form, for a policy).
            """)
    var json = false

    public init() {}

    public func run() async throws {
        try reportingErrors {
            let report = try ManifestMeasurementReport(manifestAt: manifest, locator: .current)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(report.measurement)
            }
        }
    }
}
