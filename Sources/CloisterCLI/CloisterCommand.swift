public import ArgumentParser

/// The `cloister` command: enclave simulator, attestation verifier and confidential-ML tooling.
public struct CloisterCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "cloister",
        abstract: "Confidential-computing enclave simulator and attestation verifier.",
        discussion: """
            Cloister launches workloads from signed manifests into simulated enclaves, issues and verifies \
            attestation quotes, and runs federated and differentially private training inside the enclave \
            boundary. Simulated evidence says so (simulated: true) and is never trusted as hardware evidence.
            """,
        version: CloisterVersion.string,
        subcommands: [
            PlatformCommand.self, SignCommand.self, MeasureCommand.self, RunCommand.self, VerifyCommand.self,
            ServeCommand.self, DPCommand.self, FLCommand.self,
        ]
    )

    public init() {}
}

/// The release this build reports from `cloister --version`.
public enum CloisterVersion {
    public static let string = "0.1.0"
}

extension CloisterCommand {
    /// Parses the process arguments, runs the chosen subcommand, and exits with its status.
    public static func runAsRoot(_ arguments: [String]? = nil) async {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
