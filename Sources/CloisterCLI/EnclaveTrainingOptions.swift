import ArgumentParser
import CloisterCrypto
import ConfidentialProtocol
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Learning
import RelyingParty
import Verifier

/// How a DP-SGD run goes into the dpsgd enclave, for `dp train` and `dp audit`: the signed manifest, the platform, the
/// evidence, the checkpoint, the policy; and the run itself.
struct EnclaveTrainingOptions: ParsableArguments {
    @Option(help: "Train inside the enclave this signed manifest launches (e.g. Manifests/dpsgd.manifest.cose).")
    var enclave: String?

    @Option(help: "With --enclave: the platform home (default: $CLOISTER_HOME, else ~/.cloister).")
    var home: String?

    @Option(
        help: "With --enclave: the evidence its quotes take: \(EvidenceKind.names) (default: the manifest's).")
    var evidence: EvidenceKind?

    @Option(
        help: """
            With --enclave: the sealed checkpoint file (default: $XDG_STATE_HOME, else ~/.local/state, then \
            /cloister/checkpoints/dpsgd-ID.sealed, ID a digest of the manifest, data path and options).
            """)
    var checkpoint: String?

    @Option(help: "With --enclave: appraise the quote under this policy (TOML or JSON) instead of the default.")
    var policy: String?

    @Flag(help: "With --enclave: accept an enclave signed with the public development key (Keys/dev-signer.pem).")
    var allowDevelopmentKeys = false

    func validate() throws {
        if enclave == nil
            && (home != nil || checkpoint != nil || policy != nil || allowDevelopmentKeys || evidence != nil)
        {
            throw ValidationError(
                "--home, --evidence, --checkpoint, --policy and --allow-development-keys go with --enclave")
        }
        if policy != nil && allowDevelopmentKeys {
            throw ValidationError("--allow-development-keys shapes the default policy; with --policy, say it there")
        }
    }

    /// The manifest `--enclave` names, read and checked; nil without `--enclave`.
    func signedManifest() throws(ManifestError) -> (path: String, manifest: SignedManifest)? {
        try enclave.map { path throws(ManifestError) in (path, try CommandInput.signedManifest(path, "--enclave")) }
    }

    /// Refuses, before the data is parsed or an enclave launched, a request the enclave would refuse for its size.
    static func checkRequestSize(csv: [UInt8], schema: [UInt8]?, _ dataset: DatasetOptions) throws {
        try TrainingCall.checkRequestSize(
            csv.count + (schema?.count ?? 0),
            of: dataset.schema.map { "--data \(dataset.data) with --schema \($0)" } ?? "--data \(dataset.data)")
    }

    /// Trains `setup` (prepared from `csv`, `schema` and `dataset`'s paths) inside the enclave `manifest` launches,
    /// after appraising its quote under the policy (`policyID` names the default one), resuming from and storing the
    /// checkpoint; returns the result the attested key signed, checked against `setup`, and the measurement.
    func train(
        _ manifest: (path: String, manifest: SignedManifest), setup: TrainingSetup, csv: [UInt8], schema: [UInt8]?,
        dataset: DatasetOptions, policyID: String, progress label: String
    ) throws -> (result: TrainingResult, measurement: String) {
        let measurement = hexEncoded(manifest.manifest.measurement.bytes)
        let appraiser = try RelyingParty.appraiser(home: home)
        let policy = try RelyingParty.policy(
            file: policy, id: policyID, measurement: measurement, allowDevelopmentKeys: allowDevelopmentKeys)
        let checkpointFile = try AtomicFile(
            path: checkpoint ?? defaultCheckpoint(measurement, spec: setup.spec, dataset: dataset))
        let (platform, _, channel) = try RunCommand.launch(manifest: manifest.path, home: home, evidence: evidence)
        defer {
            channel.shutdown()
            _ = try? platform.waitForEnclave()
        }
        let caller = EnclaveCaller(channel: channel)
        let client = TrainingClient(transport: { try caller.call($0, $1) }, appraiser: appraiser, policy: policy)
        let attested = try client.attest()
        printToStandardError("cloister: quote \(attested.status.rawValue) under policy '\(policy.id)'")
        let bar = ProgressBar(label: label, total: setup.plan.steps)
        let result = try client.train(
            csv: csv, schema: schema, setup: setup, in: attested, checkpoint: checkpointFile
        ) { done, _ in bar.update(done) }
        bar.finish()
        return (result, attested.measurement ?? measurement)
    }

    /// STATE/cloister/checkpoints/dpsgd-ID.sealed (STATE: $XDG_STATE_HOME, else ~/.local/state), ID a digest of
    /// what the host already knows (manifest measurement, data path, options), never of the data, so the same
    /// command finds its checkpoint again.
    private func defaultCheckpoint(_ measurement: String, spec: TrainingSpec, dataset: DatasetOptions) throws -> String
    {
        let environment = ProcessInfo.processInfo.environment
        let state =
            environment["XDG_STATE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.path + "/.local/state"
        let directory = state + "/cloister/checkpoints"
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ValidationError("cannot create the checkpoint directory \(directory) (choose one with --checkpoint)")
        }
        let options = try JSONEncoder().encode(spec)
        let key =
            [
                measurement, URL(fileURLWithPath: dataset.data).standardizedFileURL.path, dataset.schema ?? "",
                String(decoding: options, as: UTF8.self),
            ]
            .joined(separator: "\n")
        return directory + "/dpsgd-" + hexEncoded(Array(DigestAlgorithm.sha256.hash(Array(key.utf8)).prefix(16)))
            + ".sealed"
    }
}
