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
        version: CloisterVersion.string
    )

    public init() {}
}

/// The release this build reports from `cloister --version`.
public enum CloisterVersion {
    public static let string = "0.1.0"
}
