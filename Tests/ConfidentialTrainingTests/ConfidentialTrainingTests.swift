import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import ConfidentialProtocol
import EnclavePlatform
import EnclaveProtocol
import EnclaveSDK
import Foundation
import Learning
import Privacy
import RelyingParty
import Synchronization
import Testing
import Verifier

@Suite("DP-SGD inside the enclave")
struct ConfidentialTrainingTests {
    /// A feature value no real row holds, written into the first data row of breast_cancer.
    static let canary = "987654.321012"

    static func csvWithCanary() throws -> [UInt8] {
        let url = TestEnvironment.packageRoot.appendingPathComponent("Datasets/breast_cancer.csv")
        var lines = try String(contentsOf: url, encoding: .utf8).split(
            separator: "\n", omittingEmptySubsequences: false)
        var cells = lines[1].split(separator: ",", omittingEmptySubsequences: false)
        cells[0] = Substring(canary)
        lines[1] = Substring(cells.joined(separator: ","))
        return Array(lines.joined(separator: "\n").utf8)
    }

    @Test("trains in the enclave; the canary never crosses the host in the clear, not even in a checkpoint")
    func canaryStaysInside() throws {
        let fixture = try TrainingFixture()
        let (csv, schema, setup) = try TrainingFixture.breastCancer(csv: Self.csvWithCanary())
        let recording = HostRecording()
        let checkpoint = AtomicFile(path: fixture.directory.appendingPathComponent("job.sealed").path)
        let checkpoints = Mutex<[[UInt8]]>([])
        let result = try fixture.withEnclave(
            relay: { function, argument, forward in
                let reply = try forward(function, argument)
                recording.record(function, argument, reply)
                return reply
            }
        ) { _, client in
            let attested = try client.attest()
            return try client.train(
                csv: csv, schema: schema, setup: setup, in: attested, checkpoint: checkpoint
            ) { _, _ in
                if let bytes = try? checkpoint.read() { checkpoints.withLock { $0.append(bytes) } }
            }
        }
        #expect(
            recording.functions.first == EnclaveMain.quoteFunction
                && recording.functions.dropFirst().first == TrainingCall.begin
                && recording.functions.suffix(2) == [TrainingCall.finish, TrainingCall.retire])
        let counters = try FileManager.default.contentsOfDirectory(atPath: fixture.enclaves.home.countersDirectory)
        #expect(counters.isEmpty, "the retired job's counter is deleted: \(counters)")
        #expect(result.trained.privacy == (try setup.plan.privacy()))
        #expect(result.trained.plan == setup.plan && result.resumedFromStep == 0)
        #expect(result.accuracy > 0.8)
        #expect(!checkpoint.exists, "the client removes the checkpoint once the result verifies")
        let stored = checkpoints.withLock { $0 }
        #expect(stored.count > 1)
        // The retired job's last checkpoint no longer opens: its counter is gone.
        try checkpoint.write(try #require(stored.last))
        try fixture.withEnclave { _, client in
            let attested = try client.attest()
            let error = #expect(throws: ConfidentialTrainingError.self) {
                try client.train(csv: csv, schema: schema, setup: setup, in: attested, checkpoint: checkpoint)
            }
            #expect(error?.code == .checkpointRejected && error?.reason.contains("retired") == true, "\(error!)")
        }
        // The canary as text and as the double it parses to: present in the plaintext, absent from the host's bytes.
        let needles = [Array(Self.canary.utf8), withUnsafeBytes(of: Double(Self.canary)!, Array.init)]
        #expect(csv.containsBytes(needles[0]))
        for bytes in recording.bytes + stored {
            for needle in needles { #expect(!bytes.containsBytes(needle)) }
        }
    }

    @Test("an audit inside the enclave: its canaries survive a kill in the checkpoints; the report is signed")
    func auditInsideEnclave() throws {
        let fixture = try TrainingFixture()
        let audit = AuditSpec(canaries: 200, confidence: 0.95)
        let (csv, schema, setup) = try TrainingFixture.breastCancer(epochs: 4, audit: audit)
        let checkpoint = AtomicFile(path: fixture.directory.appendingPathComponent("audit.sealed").path)
        // The first run is cut at the third step call and its enclave killed; the rerun resumes the canaries.
        try fixture.trainAndKill(csv: csv, schema: schema, setup: setup, checkpoint: checkpoint, cutAt: 3)
        let result = try fixture.withEnclave { _, client in
            try client.train(csv: csv, schema: schema, setup: setup, in: try client.attest(), checkpoint: checkpoint)
        }
        #expect(result.resumedFromStep > 0)
        let report = try #require(result.audit)
        #expect(report.canaries == 200 && report.confidence == 0.95)
        #expect(
            report.epsilonLowerMax
                == (try GradientCanaries.ceiling(count: 200, delta: setup.plan.delta, confidence: 0.95)))
        #expect(report.guesses > 0 && report.correct <= report.guesses)
        let claim = try #require(try setup.plan.privacy().tightestFirst.first).epsilon
        #expect(report.epsilonLower <= claim, "\(report) against ε \(claim)")
    }

    @Test("a quote for another measurement is refused before anything is sent")
    func refusesAnotherMeasurement() throws {
        let fixture = try TrainingFixture()
        let recording = HostRecording()
        let other = String(repeating: "ab", count: 48)
        try fixture.withEnclave(
            measurement: other,
            relay: { function, argument, forward in
                let reply = try forward(function, argument)
                recording.record(function, argument, reply)
                return reply
            }
        ) { _, client in
            let error = #expect(throws: ConfidentialTrainingError.self) { try client.attest() }
            #expect(error?.code == .attestationRefused)
            #expect(error?.reason.contains("measurement") == true)
        }
        #expect(recording.functions == [EnclaveMain.quoteFunction])
    }

    @Test("a replayed quote (another nonce) is refused")
    func refusesAReplayedQuote() throws {
        let fixture = try TrainingFixture()
        let old = Mutex<[UInt8]?>(nil)
        try fixture.withEnclave(
            relay: { function, argument, forward in
                let reply = try forward(function, argument)
                guard function == EnclaveMain.quoteFunction else { return reply }
                return old.withLock { saved in
                    if let saved { return saved }
                    saved = reply
                    return reply
                }
            }
        ) { _, client in
            _ = try client.attest()
            let error = #expect(throws: ConfidentialTrainingError.self) { try client.attest() }
            #expect(error?.reason.contains("nonce") == true)
        }
    }

    @Test("a result whose signature or payload the host changed is refused", arguments: ["signature", "payload"])
    func refusesATamperedResult(part: String) throws {
        let fixture = try TrainingFixture()
        let (csv, schema, setup) = try TrainingFixture.breastCancer(epochs: 1)
        try fixture.withEnclave(
            relay: { function, argument, forward in
                var reply = try forward(function, argument)
                guard function == TrainingCall.finish else { return reply }
                let message = try COSESign1(encoded: reply)
                // The signature is the message's last bytes; the payload holds the model's JSON.
                let index =
                    part == "signature"
                    ? reply.count - 1
                    : try #require(reply.firstRange(of: Array("\"learningRate\"".utf8))).upperBound + 1
                #expect(message.signature.count == 64)
                reply[index] ^= 0x01
                return reply
            }
        ) { _, client in
            let attested = try client.attest()
            let error = #expect(throws: ConfidentialTrainingError.self) {
                try client.train(csv: csv, schema: schema, setup: setup, in: attested, checkpoint: nil)
            }
            #expect(error?.code == .resultRejected)
        }
    }

    @Test("SIGKILL mid-training: the rerun resumes from the checkpoint and counts every step once; rollback refused")
    func resumesAfterKill() throws {
        let fixture = try TrainingFixture()
        let (csv, schema, setup) = try TrainingFixture.breastCancer(epochs: 10)
        let path = fixture.directory.appendingPathComponent("job.sealed").path
        let checkpoint = AtomicFile(path: path)
        let early = fixture.directory.appendingPathComponent("early.sealed").path
        // First run: the host copies the first checkpoint aside, and the enclave is killed at the third step call
        // (after the client stored the second checkpoint, before the enclave counted it as stored).
        try fixture.trainAndKill(csv: csv, schema: schema, setup: setup, checkpoint: checkpoint, cutAt: 3) { count in
            if count == 2 { try FileManager.default.copyItem(atPath: path, toPath: early) }
        }
        #expect(checkpoint.exists)
        let chunk = max(1, setup.plan.steps / 50)
        // The rerun resumes at the second checkpoint and reports the privacy of all the plan's steps, once. Its host
        // stops before retiring the job, so the job's counter stays.
        let result = try fixture.withEnclave(
            relay: { function, argument, forward in
                function == TrainingCall.retire ? [] : try forward(function, argument)
            }
        ) { _, client in
            try client.train(
                csv: csv, schema: schema, setup: setup, in: try client.attest(), checkpoint: checkpoint)
        }
        #expect(result.resumedFromStep == 2 * chunk)
        #expect(result.trained.privacy.steps == setup.plan.steps)
        #expect(result.trained.privacy == (try setup.plan.privacy(afterSteps: setup.plan.steps)))
        // The first checkpoint is older than the last one stored: refused.
        try FileManager.default.copyItem(atPath: early, toPath: path)
        try fixture.withEnclave { _, client in
            let attested = try client.attest()
            let error = #expect(throws: ConfidentialTrainingError.self) {
                try client.train(csv: csv, schema: schema, setup: setup, in: attested, checkpoint: checkpoint)
            }
            #expect(error?.code == .checkpointRejected && error?.reason.contains("rolled back") == true)
        }
    }

    @Test("the host replaying a request to the enclave gets the same model, not a second noisy view of the data")
    func replayedRequestGivesTheSameModel() throws {
        let fixture = try TrainingFixture()
        let (csv, schema, setup) = try TrainingFixture.breastCancer(epochs: 2)
        let begin = Mutex<[UInt8]?>(nil)
        try fixture.withEnclave(
            relay: { function, argument, forward in
                if function == TrainingCall.begin { begin.withLock { $0 = argument } }
                return try forward(function, argument)
            }
        ) { _, client in
            let attested = try client.attest()
            let first = try client.train(csv: csv, schema: schema, setup: setup, in: attested, checkpoint: nil)
            let replayed = try #require(begin.withLock { $0 })
            _ = try client.transport(TrainingCall.begin, replayed)
            var taken = 0
            while taken < setup.plan.steps {
                let reply = try CBORDecoder().decode(
                    client.transport(TrainingCall.step, CBORValue.unsigned(1000).encoded()))
                taken = Int(try #require(reply["steps_taken"]?.uint64Value))
            }
            let second = try TrainingResult(
                signed: client.transport(TrainingCall.finish, []), publicKey: attested.key)
            #expect(second.trained == first.trained)
        }
    }

    @Test("a signed result of an earlier request, replayed by the host, is refused")
    func refusesAReplayedResult() throws {
        let fixture = try TrainingFixture()
        let (csv, schema, setup) = try TrainingFixture.breastCancer(epochs: 1)
        let first = Mutex<[UInt8]?>(nil)
        try fixture.withEnclave(
            relay: { function, argument, forward in
                let reply = try forward(function, argument)
                guard function == TrainingCall.finish else { return reply }
                return first.withLock { saved in
                    if let saved { return saved }
                    saved = reply
                    return reply
                }
            }
        ) { _, client in
            _ = try client.train(csv: csv, schema: schema, setup: setup, in: try client.attest(), checkpoint: nil)
            let attested = try client.attest()
            let error = #expect(throws: ConfidentialTrainingError.self) {
                try client.train(csv: csv, schema: schema, setup: setup, in: attested, checkpoint: nil)
            }
            #expect(error?.code == .resultRejected && error?.reason.contains("another request") == true)
        }
    }

    @Test(
        "progress the host rewrites (steps going backwards) is refused",
        arguments: [TrainingCall.begin, TrainingCall.step])
    func refusesRewrittenProgress(function target: String) throws {
        let fixture = try TrainingFixture()
        let (csv, schema, setup) = try TrainingFixture.breastCancer(epochs: 1)
        try fixture.withEnclave(
            relay: { function, argument, forward in
                let reply = try forward(function, argument)
                guard function == target, case .map(let entries) = try CBORDecoder().decode(reply) else { return reply }
                let rewritten = entries.map { entry in
                    entry.key == .text("steps_taken")
                        ? CBORMapEntry(entry.key, .unsigned(target == TrainingCall.begin ? 10_000 : 0)) : entry
                }
                return try CBORValue.map(rewritten).encoded()
            }
        ) { _, client in
            let attested = try client.attest()
            let error = #expect(throws: ConfidentialTrainingError.self) {
                try client.train(csv: csv, schema: schema, setup: setup, in: attested, checkpoint: nil)
            }
            #expect(error?.code == .protocolViolation)
        }
    }

    @Test("a checkpoint of another job is refused")
    func refusesAnotherJobsCheckpoint() throws {
        let fixture = try TrainingFixture()
        let (csv, schema, setup) = try TrainingFixture.breastCancer(epochs: 2)
        let checkpoint = AtomicFile(path: fixture.directory.appendingPathComponent("job.sealed").path)
        try fixture.withEnclave(
            relay: { function, argument, forward in
                if function == TrainingCall.finish { throw CancellationError() }
                return try forward(function, argument)
            }
        ) { _, client in
            #expect(throws: CancellationError.self) {
                try client.train(
                    csv: csv, schema: schema, setup: setup, in: try client.attest(), checkpoint: checkpoint)
            }
        }
        let other = try TrainingFixture.breastCancer(csv: Self.csvWithCanary(), epochs: 2)
        try fixture.withEnclave { _, client in
            let attested = try client.attest()
            let error = #expect(throws: ConfidentialTrainingError.self) {
                try client.train(
                    csv: other.csv, schema: other.schema, setup: other.setup, in: attested, checkpoint: checkpoint)
            }
            #expect(error?.code == .checkpointRejected && error?.reason.contains("another training job") == true)
        }
    }

    @Test("the examples live in the sealed `dataset` region: with a 64 KiB resident budget they page out encrypted")
    func examplesInSealedRegion() throws {
        // 455 + 114 rows of 30 features and a label take 141,112 bytes (35 pages); 16 frames hold fewer than half.
        let fixture = try TrainingFixture { $0.replacingOccurrences(of: #"size = "256M""#, with: #"size = "64K""#) }
        let (csv, schema, setup) = try TrainingFixture.breastCancer(csv: Self.csvWithCanary(), epochs: 2)
        let (result, backingStore) = try fixture.withEnclave { enclave, client in
            let result = try client.train(
                csv: csv, schema: schema, setup: setup, in: try client.attest(), checkpoint: nil)
            let directory = URL(fileURLWithPath: enclave.record.backingStoreDirectory)
            let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            return (result, try files.map { try [UInt8](Data(contentsOf: $0)) })
        }
        #expect(result.accuracy > 0.8 && result.trainExamples == setup.train.count)
        let evicted = backingStore.reduce(0) { $0 + $1.count }
        #expect(evicted >= 19 * EnclaveMemory.pageSize, "at least the pages that do not fit were written out")
        let needles = [Array(Self.canary.utf8), withUnsafeBytes(of: Double(Self.canary)!, Array.init)]
        for bytes in backingStore {
            for needle in needles { #expect(!bytes.containsBytes(needle)) }
        }
    }

    @Test("a dataset larger than the manifest's `dataset` region is refused with dataset-too-large")
    func datasetTooLarge() throws {
        let fixture = try TrainingFixture {
            $0.replacingOccurrences(of: #"dataset = "64M""#, with: #"dataset = "64K""#)
        }
        let (csv, schema, setup) = try TrainingFixture.breastCancer(epochs: 1)
        try fixture.withEnclave { _, client in
            let attested = try client.attest()
            let error = #expect(throws: ConfidentialTrainingError.self) {
                try client.train(csv: csv, schema: schema, setup: setup, in: attested, checkpoint: nil)
            }
            #expect(error?.code == .datasetTooLarge && error?.reason.contains("141112 bytes") == true)
        }
    }
}

extension ConfidentialTrainingTests {
    @Test("oversized and garbage input from the host gets an error reply; the same enclave then trains")
    func hostileHostInput() throws {
        let fixture = try TrainingFixture()
        let (csv, schema, setup) = try TrainingFixture.breastCancer(epochs: 1)
        let recording = HostRecording()
        try fixture.withEnclave(
            relay: { function, argument, forward in
                recording.record(function, argument, [])
                return try forward(function, argument)
            }
        ) { enclave, client in
            let caller = EnclaveCaller(channel: enclave.host)
            func refusal(_ argument: [UInt8]) -> ConfidentialTrainingError? {
                let error = #expect(throws: EnclaveCallError.self) { try caller.call(TrainingCall.begin, argument) }
                return error.flatMap(ConfidentialTrainingError.init)
            }
            let oversized = refusal([UInt8](repeating: 0, count: TrainingCall.maximumRequestSize + 1))
            #expect(oversized?.code == .datasetTooLarge)
            #expect(oversized?.reason.contains("at most \(TrainingCall.maximumRequestSize) bytes") == true)
            #expect(refusal([0xff, 0x00])?.code == .protocolViolation)
            #expect(refusal(try CBORValue.map([]).encoded())?.code == .protocolViolation)
            let early = #expect(throws: EnclaveCallError.self) { try caller.call(TrainingCall.retire) }
            #expect(early.flatMap(ConfidentialTrainingError.init)?.code == .protocolViolation, "retire before finish")
            try enclave.host.send([0xff])
            guard
                case .ecallResult(EnclaveCallServer.unreadableMessageID, .failed("malformed-message", _)) =
                    try EnclaveCallMessage(decoding: enclave.host.receive())
            else {
                Issue.record("garbage was not answered with malformed-message")
                return
            }
            // The data owner's client refuses a request past the limit itself: nothing is sent.
            let attested = try client.attest()
            let big = csv + Array(repeating: UInt8(ascii: " "), count: TrainingCall.maximumRequestSize)
            let refused = #expect(throws: ConfidentialTrainingError.self) {
                try client.train(csv: big, schema: schema, setup: setup, in: attested, checkpoint: nil)
            }
            #expect(refused?.code == .datasetTooLarge)
            #expect(!recording.functions.contains(TrainingCall.begin))
            let result = try client.train(csv: csv, schema: schema, setup: setup, in: attested, checkpoint: nil)
            #expect(result.trainExamples == setup.train.count)
        }
    }
}

@Suite("cloister dp train --enclave")
struct EnclaveTrainCommandTests {
    /// A platform home and the dpsgd manifest signed into a temporary directory, through the CLI.
    func prepare() throws -> (directory: URL, environment: [String: String], manifest: String) {
        try signedManifestThroughCLI("dpsgd")
    }

    func arguments(_ manifest: String, checkpoint: String, epochs: Int) -> [String] {
        let datasets = TestEnvironment.packageRoot.appendingPathComponent("Datasets").path
        return [
            "dp", "train", "--enclave", manifest, "--data", "\(datasets)/breast_cancer.csv", "--label", "label",
            "--schema", "\(datasets)/breast_cancer.schema.json", "--noise-multiplier", "1", "--delta", "1e-5",
            "--epochs", "\(epochs)", "--batch-size", "32", "--lr", "0.3", "--clip", "1", "--checkpoint", checkpoint,
            "--json",
        ]
    }

    func run(_ arguments: [String], _ environment: [String: String]) throws -> ToolOutput {
        try runCloister(arguments, environment)
    }

    @Test("dp audit --enclave: the audit's report comes from the enclave's signed result")
    func auditCommand() throws {
        let (directory, environment, manifest) = try prepare()
        let datasets = TestEnvironment.packageRoot.appendingPathComponent("Datasets").path
        let audited = try run(
            [
                "dp", "audit", "--enclave", manifest, "--allow-development-keys", "--data",
                "\(datasets)/breast_cancer.csv", "--label", "label", "--schema",
                "\(datasets)/breast_cancer.schema.json", "--epsilon", "1", "--delta", "1e-5", "--epochs", "3",
                "--canaries", "100", "--checkpoint", directory.appendingPathComponent("audit.sealed").path, "--json",
            ], environment)
        #expect(audited.status == 0, "\(audited.standardError)")
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(audited.standardOutput.utf8)) as? [String: Any])
        #expect((fields["enclave_measurement"] as? String)?.count == 96)
        #expect(fields["canaries"] as? Int == 100 && (fields["guesses"] as? Int ?? 0) > 0)
        let lower = try #require(fields["epsilon_lower"] as? Double)
        #expect(lower >= 0 && lower <= 1, "\(fields)")
    }

    @Test("refuses a development-signed enclave unless told (exit 2, nothing sent); trains when allowed")
    func developmentKeys() throws {
        let (directory, environment, manifest) = try prepare()
        let checkpoint = directory.appendingPathComponent("job.sealed").path
        let refused = try run(arguments(manifest, checkpoint: checkpoint, epochs: 2), environment)
        #expect(refused.status == 2)
        #expect(refused.standardError.contains("development-key"))
        let trained = try run(
            arguments(manifest, checkpoint: checkpoint, epochs: 2) + ["--allow-development-keys"], environment)
        #expect(trained.status == 0, "\(trained.standardError)")
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(trained.standardOutput.utf8)) as? [String: Any])
        #expect(fields["steps"] as? Int == 28 && fields["resumed_from_step"] as? Int == 0)
        #expect((fields["enclave_measurement"] as? String)?.count == 96)
        #expect(!FileManager.default.fileExists(atPath: checkpoint))
    }

    @Test(
        "trains with every kind of simulated hardware evidence: the data owner's attestation takes each through the registry"
    )
    func everyEvidenceKind() throws {
        let (directory, environment, manifest) = try prepare()
        for kind in ["sgx", "tdx-v5-td15", "snp-vlek", "nitro"] {
            let checkpoint = directory.appendingPathComponent("job-\(kind).sealed").path
            // The development signer is known in every kind's form (SGX's MRSIGNER is the signer id's SHA-256).
            let refused = try run(
                arguments(manifest, checkpoint: checkpoint, epochs: 1) + ["--evidence", kind], environment)
            #expect(refused.status == 2, "\(kind): \(refused.standardError)")
            #expect(refused.standardError.contains("development-key"), "\(kind): \(refused.standardError)")
            let trained = try run(
                arguments(manifest, checkpoint: checkpoint, epochs: 1) + [
                    "--evidence", kind, "--allow-development-keys",
                ],
                environment)
            #expect(trained.status == 0, "\(kind): \(trained.standardError)")
            #expect(trained.standardError.contains("(evidence \(kind))"), "\(kind)")
        }
    }

    @Test("a CSV past the enclave's request limit exits 65 naming the file and the limit, before any launch")
    func csvPastRequestLimit() throws {
        let (directory, environment, manifest) = try prepare()
        let datasets = TestEnvironment.packageRoot.appendingPathComponent("Datasets")
        let rows = try String(contentsOf: datasets.appendingPathComponent("breast_cancer.csv"), encoding: .utf8)
            .split(separator: "\n")
        let body = Array((rows.dropFirst().joined(separator: "\n") + "\n").utf8)
        var csv = Array((rows[0] + "\n").utf8)
        while csv.count <= TrainingCall.maximumRequestSize { csv += body }
        let path = directory.appendingPathComponent("large.csv").path
        try Data(csv).write(to: URL(fileURLWithPath: path))
        let checkpoint = directory.appendingPathComponent("job.sealed").path
        var arguments = arguments(manifest, checkpoint: checkpoint, epochs: 1) + ["--allow-development-keys"]
        arguments[arguments.firstIndex(of: "--data")! + 1] = path
        let refused = try run(arguments, environment)
        #expect(refused.status == 65, "\(refused.standardError)")
        #expect(refused.standardError.contains("--data \(path) with --schema"), "\(refused.standardError)")
        #expect(refused.standardError.contains("at most \(TrainingCall.maximumRequestSize) bytes (16 MiB)"))
        #expect(!refused.standardError.contains("launched"), "refused before an enclave was launched")
        #expect(!FileManager.default.fileExists(atPath: checkpoint))
    }

    @Test("a checkpoint the enclave refuses (not sealed by it) exits 65 naming the refusal, and is kept")
    func refusedCheckpoint() throws {
        let (directory, environment, manifest) = try prepare()
        let checkpoint = directory.appendingPathComponent("job.sealed").path
        try Data("not a sealed checkpoint".utf8).write(to: URL(fileURLWithPath: checkpoint))
        let refused = try run(
            arguments(manifest, checkpoint: checkpoint, epochs: 2) + ["--allow-development-keys"], environment)
        #expect(refused.status == 65)
        #expect(refused.standardError.contains("checkpoint"), "\(refused.standardError)")
        #expect(FileManager.default.fileExists(atPath: checkpoint))
    }

    /// Kill anywhere: an uninterrupted run of the command is timed (D), then 12 runs of it are SIGKILLed at delays
    /// drawn uniformly from zero to 1.2·D: over the enclave's launch, the attestation, the resumption, the 50
    /// checkpoints (one every 1/50 of the steps), the result, the checkpoint's removal and the job's retirement. After
    /// each kill the checkpoint is none, the one before the run (old) or a whole sealed checkpoint the run wrote (new),
    /// never a partial file, with at most the one temporary file the kill interrupted; a run that ended before its
    /// kill ended well and removed its checkpoint (the next run begins the job again). Then the command runs to its
    /// end, resuming from the last checkpoint, and counts every step once.
    @Test("SIGKILL at random points: the checkpoint is none, old or whole new; the rerun counts every step once")
    func killAnywhereAndRerun() throws {
        let (directory, environment, manifest) = try prepare()
        let checkpoint = directory.appendingPathComponent("job.sealed").path
        let epochs = 300
        let steps = epochs * 14  // ⌊455 / 32⌋ steps an epoch
        let arguments = arguments(manifest, checkpoint: checkpoint, epochs: epochs) + ["--allow-development-keys"]
        let started = Date()
        let whole = try run(arguments, environment)
        let duration = Date().timeIntervalSince(started)
        try #require(whole.status == 0, "\(whole.standardError)")
        #expect(!FileManager.default.fileExists(atPath: checkpoint))
        var before: Data?
        let kills = try killAnywhere(runs: 12, duration: { duration }, environment: environment, { arguments }) {
            exitStatus in
            defer { before = FileManager.default.contents(atPath: checkpoint) }
            if let exitStatus {
                // Ended before its kill: it must have ended well and removed its checkpoint.
                return exitStatus == 0 && !FileManager.default.fileExists(atPath: checkpoint) ? .finished : .broken
            }
            let temporaries = try AtomicFile.entries(of: directory.path)
                .filter { $0.hasPrefix(AtomicFile.temporaryPrefix) }
            guard temporaries.count <= 1 else { return .broken }
            guard let after = FileManager.default.contents(atPath: checkpoint) else { return .absent }
            if after == before { return .old }
            return (try? SealedBlob(encoded: Array(after))) != nil ? .new : .broken
        }
        print("dp train --enclave (D \(Int(duration * 1000)) ms) killed 12 times: \(kills.summary)")
        #expect(kills.runs(in: .broken).isEmpty, "\(kills.summary)")
        let resumable = FileManager.default.fileExists(atPath: checkpoint)
        let rerun = try run(arguments, environment)
        #expect(rerun.status == 0, "\(rerun.standardError)")
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(rerun.standardOutput.utf8)) as? [String: Any])
        let resumed = try #require(fields["resumed_from_step"] as? Int)
        #expect(resumable ? resumed > 0 && resumed <= steps : resumed == 0, "resumed from step \(resumed)")
        #expect(fields["steps"] as? Int == steps)
        // The feature centre (released with the job's first step) and every step, each once.
        let expected = try Accountant.pld.epsilon(
            [
                RDPAccountant.Composition(
                    mechanism: SubsampledGaussian(samplingRate: 1, noiseMultiplier: DPSGDPlan.defaultCentringNoise),
                    steps: 1),
                RDPAccountant.Composition(
                    mechanism: SubsampledGaussian(
                        samplingRate: PoissonSampling.rate(32, outOf: 455), noiseMultiplier: 1), steps: steps),
            ], delta: 1e-5
        ).epsilon
        let epsilon = try #require(fields["epsilon_pld"] as? Double)
        #expect(abs(epsilon - expected) < 1e-12 * expected, "\(epsilon) vs \(expected)")  // up to the JSON's last digit
        #expect(fields["centring_noise_multiplier"] as? Double == DPSGDPlan.defaultCentringNoise)
    }
}

@Suite("What a data owner checks in a signed training result")
struct TrainingResultCheckTests {
    /// A result exactly as the enclave would make it for `setup`, the request `ciphertext` and `nonce`.
    static func honest(_ setup: TrainingSetup, ciphertext: [UInt8], nonce: [UInt8]) throws -> TrainingResult {
        try result(setup, plan: setup.plan, privacy: setup.plan.privacy(), ciphertext: ciphertext, nonce: nonce)
    }

    static func result(
        _ setup: TrainingSetup, plan: DPSGDPlan, privacy: PrivacyReport, trainExamples: Int? = nil,
        testExamples: Int? = nil, ciphertext: [UInt8], nonce: [UInt8]
    ) throws -> TrainingResult {
        TrainingResult(
            trained: TrainedModel(
                model: setup.initialModel, featureNames: setup.featureNames, plan: plan, privacy: privacy),
            accuracy: 0.9, trainExamples: trainExamples ?? setup.train.count,
            testExamples: testExamples ?? setup.test.count,
            resumedFromStep: 0, requestDigest: DigestAlgorithm.sha256.hash(ciphertext), nonce: nonce)
    }

    @Test("an audit's report is refused unless it is exactly the audit the job asked for")
    func auditReportChecked() throws {
        let asked = AuditSpec(canaries: 100, confidence: 0.95)
        let (_, _, setup) = try TrainingFixture.breastCancer(epochs: 1, audit: asked)
        let (_, _, plain) = try TrainingFixture.breastCancer(epochs: 1)
        let ceiling = try GradientCanaries.ceiling(count: 100, delta: setup.plan.delta, confidence: 0.95)
        func result(_ audit: AuditReport?) throws -> TrainingResult {
            let honest = try TrainingResultCheckTests.honest(setup, ciphertext: [1], nonce: [2])
            return TrainingResult(
                trained: honest.trained, accuracy: honest.accuracy, trainExamples: honest.trainExamples,
                testExamples: honest.testExamples, resumedFromStep: 0, requestDigest: honest.requestDigest,
                nonce: [2], audit: audit)
        }
        let good = AuditReport(
            canaries: 100, confidence: 0.95, guesses: 10, correct: 7, epsilonLower: 0.1, epsilonLowerMax: ceiling)
        try result(good).check(answers: [1], nonce: [2], setup: setup)
        let key = try ECPrivateKey(generating: .p256)
        #expect(try TrainingResult(signed: result(good).signed(with: key), publicKey: key.publicKey).audit == good)
        for (label, audit, against) in [
            ("missing", nil, setup), ("not asked for", good, plain),
            (
                "other canaries",
                AuditReport(
                    canaries: 50, confidence: 0.95, guesses: 10, correct: 7, epsilonLower: 0.1, epsilonLowerMax: ceiling
                ),
                setup
            ),
            (
                "another ceiling",
                AuditReport(
                    canaries: 100, confidence: 0.95, guesses: 10, correct: 7, epsilonLower: 0.1, epsilonLowerMax: 9),
                setup
            ),
            (
                "more right than guessed",
                AuditReport(
                    canaries: 100, confidence: 0.95, guesses: 10, correct: 11, epsilonLower: 0.1,
                    epsilonLowerMax: ceiling), setup
            ),
        ] as [(String, AuditReport?, TrainingSetup)] {
            let error = #expect(throws: ConfidentialTrainingError.self, "\(label)") {
                try result(audit).check(answers: [1], nonce: [2], setup: against)
            }
            #expect(error?.reason.contains("audit") == true || label == "not asked for", "\(label): \(error!)")
        }
    }

    @Test("a report by any accountant crosses the signature unchanged")
    func reportByAnyAccountant() throws {
        let (_, _, setup) = try TrainingFixture.breastCancer(epochs: 1)
        let key = try ECPrivateKey(generating: .p256)
        let result = try Self.result(
            setup, plan: setup.plan, privacy: setup.plan.privacy(by: [.prv]), ciphertext: [1], nonce: [2])
        let opened = try TrainingResult(signed: result.signed(with: key), publicKey: key.publicKey)
        #expect(opened == result && opened.trained.privacy.epsilons.map(\.accountant) == [.prv])
    }

    @Test("the honest result passes; every field that does not match the request or the client's own plan is refused")
    func refusals() throws {
        let (_, _, setup) = try TrainingFixture.breastCancer(epochs: 1)
        let ciphertext: [UInt8] = Array("the request ciphertext".utf8)
        let nonce = [UInt8](repeating: 7, count: 32)
        try Self.honest(setup, ciphertext: ciphertext, nonce: nonce).check(
            answers: ciphertext, nonce: nonce, setup: setup)

        let plan = setup.plan
        let otherPlan = try DPSGDPlan(
            exampleCount: plan.exampleCount, batchSize: plan.batchSize, epochs: plan.epochs + 1,
            learningRate: plan.learningRate, clip: plan.clip, noiseMultiplier: plan.noiseMultiplier, delta: plan.delta)
        let understated = try PrivacyReport(plan.mechanism, steps: plan.steps / 2, delta: plan.delta)
        let cases: [(String, TrainingResult, String)] = [
            ("another nonce", try Self.honest(setup, ciphertext: ciphertext, nonce: [1]), "another request"),
            ("another request's digest", try Self.honest(setup, ciphertext: [9], nonce: nonce), "another request"),
            (
                "another plan",
                try Self.result(
                    setup, plan: otherPlan, privacy: otherPlan.privacy(), ciphertext: ciphertext, nonce: nonce),
                "plan"
            ),
            (
                "another training-set size",
                try Self.result(
                    setup, plan: plan, privacy: plan.privacy(), trainExamples: setup.train.count - 1,
                    ciphertext: ciphertext, nonce: nonce),
                "plan"
            ),
            (
                "another test-set size",
                try Self.result(
                    setup, plan: plan, privacy: plan.privacy(), testExamples: setup.test.count + 1,
                    ciphertext: ciphertext, nonce: nonce),
                "plan"
            ),
            (
                "a privacy report for half the steps",
                try Self.result(setup, plan: plan, privacy: understated, ciphertext: ciphertext, nonce: nonce),
                "privacy report"
            ),
            (
                "a privacy report by other accountants than the client's",
                try Self.result(
                    setup, plan: plan, privacy: plan.privacy(by: [.rdp, .prv]), ciphertext: ciphertext, nonce: nonce),
                "privacy report"
            ),
        ]
        for (name, result, reason) in cases {
            let error = #expect(throws: ConfidentialTrainingError.self, "\(name)") {
                try result.check(answers: ciphertext, nonce: nonce, setup: setup)
            }
            #expect(
                error?.code == .resultRejected && error?.reason.contains(reason) == true,
                "\(name): \(String(describing: error))")
        }
    }
}
