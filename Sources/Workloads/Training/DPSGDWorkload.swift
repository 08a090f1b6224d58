import CloisterCBOR
import CloisterCrypto
import CloisterErrors
import ConfidentialProtocol
import EnclaveProtocol
public import EnclaveSDK
import FoundationEssentials
import Learning
import Synchronization

extension BuiltinWorkload {
    /// Trains a model with DP-SGD on data that only this enclave can read (`Manifests/dpsgd.toml`). The data owner
    /// verifies the enclave's quote and sends the request HPKE-encrypted to the key it binds; the enclave returns
    /// sealed checkpoints (rollback-protected by a platform monotonic counter, carrying the accountant state) and,
    /// at the end, the model and its privacy report signed by that key. See `TrainingCall` for the ECALLs and
    /// `EnclaveTrainer` for why a restart can neither lose nor double-count privacy.
    public static let dpsgd = BuiltinWorkload(
        name: "dpsgd",
        summary: "DP-SGD on an HPKE-encrypted dataset; sealed checkpoints; a signed model and privacy report",
        ecalls: { enclave in
            let trainer = try EnclaveTrainer(enclave: enclave)
            var table = EnclaveCallTable()
            table.register(TrainingCall.begin) { try trainer.begin($0) }
            table.register(TrainingCall.step) { try trainer.step($0) }
            table.register(TrainingCall.finish) { _ in try trainer.finish() }
            table.register(TrainingCall.retire) { _ in try trainer.retire() }
            table.registerHostDrivenMain(
                "dpsgd: this workload trains on encrypted data sent by `cloister dp train --enclave`")
            return table
        })
}

/// The training state inside the enclave: one job at a time, driven by the host's ECALLs.
///
/// Restarts. A checkpoint holds the trainer (model, velocity, steps taken: the accountant's state, since every step
/// runs the plan's mechanism) and the job's secret randomness key (HMAC of the request's HPKE exporter secret under
/// a key of this enclave instance, so a replayed request gets the same key). Step t samples its batch and draws its noise from
/// the keyed stream t (`KeyedRandomStream`, AES-256-CTR under that key), a large release's noise from the streams
/// `JobNoiseStreams` numbers for step t, so the run is a function of the data, the
/// spec and the sealed key: re-running steps from any checkpoint reproduces them exactly, and no restart can release
/// a second, differently-noised view of the data. The privacy report counts every step of the final model once.
///
/// Audits. A job whose spec asks for an audit (`cloister dp audit --enclave`) trains with its gradient canaries: their
/// membership is drawn from the job's own keyed stream (number 2⁶⁴ − 1, after every step's), so neither the host nor
/// the data owner knows it, and a restart draws the same; their scores travel in the sealed checkpoints; and the
/// audit's report (`AuditReport`) is part of the signed result.
///
/// Rollback. Checkpoints are sealed to the measurement and stamped with a platform monotonic counter in two phases:
/// `step` stamps its checkpoint with the next counter value without advancing the counter, and the next `step` or
/// `finish` (which the host sends only after storing that checkpoint) advances it. `begin` accepts only a checkpoint
/// stamped at or above the counter, and advances the counter to its stamp. So a checkpoint older than the last one
/// the host stored is refused, and a host killed at any moment still holds a checkpoint it can resume from.
final class EnclaveTrainer: Sendable {
    private struct Job: Sendable {
        let plan: DPSGDPlan
        /// The split examples, in the manifest's `dataset` region (not in the enclave's heap).
        let train: SealedExamples
        let test: SealedExamples
        let featureNames: [String]
        let jobID: [UInt8]
        let requestDigest: [UInt8]
        let nonce: [UInt8]
        let resumedFromStep: Int
        /// Keys the random streams of the steps; generated at the job's start, then carried in its checkpoints.
        let secret: [UInt8]
        /// `secret` as the AES-256 key of those streams, set up once per job.
        let streamKey: AESCTRKey
        var trainer: DPSGD
        /// The audit's canaries, when the spec asks for an audit.
        var canaries: GradientCanaries?
        let audit: AuditSpec?
        /// The counter value the stored checkpoints have reached (nil before the first checkpoint).
        var counter: MonotonicCounter?
        /// The stamp of the checkpoint handed to the host but not yet confirmed stored.
        var pending: MonotonicCounter?
    }

    private let enclave: Enclave
    /// Random for this enclave instance: with the request's HPKE exporter secret it keys a new job's randomness.
    private let instanceKey: [UInt8]
    private let job = Mutex<Job?>(nil)

    init(enclave: Enclave) throws {
        self.enclave = enclave
        instanceKey = try SecureRandom.bytes(count: 32)
    }

    /// Opens the request with the enclave key, prepares the run, and resumes from the checkpoint when one is given.
    func begin(_ argument: [UInt8]) throws -> [UInt8] {
        let what = "'\(TrainingCall.begin)'"
        try TrainingCall.checkRequestSize(argument.count, of: "the training request")
        let message: CBORValue
        do {
            message = try CBORDecoder(limits: CBORLimits(maximumInputSize: TrainingCall.maximumRequestSize))
                .decode(argument)
        } catch {
            throw ConfidentialTrainingError(.protocolViolation, "\(what) takes a CBOR map: \(error)")
        }
        let ciphertext = try TrainingMessage.bytes(message, "ciphertext", in: what)
        let plaintext: [UInt8]
        let exported: [UInt8]
        do {
            var recipient = try HPKE.Recipient(
                privateKey: enclave.key, encapsulatedKey: TrainingMessage.bytes(message, "encapsulated_key", in: what),
                info: TrainingCall.hpkeInfo)
            plaintext = try recipient.open(ciphertext)
            exported = try recipient.exportSecret(context: TrainingCall.randomnessContext, length: 32)
        } catch {
            throw ConfidentialTrainingError(
                .protocolViolation, "the training request does not open with this enclave's key: \(error)")
        }
        let request = try TrainingRequest(encoded: plaintext)
        let setup = try TrainingSetup(
            csv: request.csv, source: "the dataset", schema: request.schema, schemaSource: "the schema",
            spec: request.spec)
        let (train, test) = try store(setup)
        let jobID = try request.jobID
        var trainer = DPSGD(plan: setup.plan, model: setup.initialModel)
        // The same request replayed to this enclave gets the same randomness, hence the same model: a host cannot
        // collect differently noised runs by replaying it. Neither the host nor the sender can compute the key.
        var secret = try HMAC.authenticationCode(for: exported, key: instanceKey, digest: .sha256)
        var counter: MonotonicCounter?
        var canaries: GradientCanaries?
        if let sealed = message["checkpoint"]?.bytesValue {
            (trainer, secret, counter, canaries) = try resume(
                sealed, jobID: jobID, plan: setup.plan, audit: setup.spec.audit)
        }
        let streamKey = try AESCTRKey(secret)
        if let audit = setup.spec.audit, canaries == nil {
            var membership = KeyedRandomStream(key: streamKey, stream: .max)
            canaries = try GradientCanaries(count: audit.canaries, random: &membership)
        }
        job.withLock {
            $0 = Job(
                plan: setup.plan, train: train, test: test, featureNames: setup.featureNames, jobID: jobID,
                requestDigest: DigestAlgorithm.sha256.hash(ciphertext), nonce: request.nonce,
                resumedFromStep: trainer.stepsTaken, secret: secret, streamKey: streamKey, trainer: trainer,
                canaries: canaries, audit: setup.spec.audit, counter: counter)
        }
        return try CBORValue.map([
            CBORMapEntry("steps", .unsigned(UInt64(setup.plan.steps))),
            CBORMapEntry("steps_taken", .unsigned(UInt64(trainer.stepsTaken))),
        ]).encoded()
    }

    /// Runs up to the requested number of steps and returns the progress and a fresh sealed checkpoint.
    func step(_ argument: [UInt8]) throws -> [UInt8] {
        guard let count = try CBORDecoder().decode(argument).uint64Value, count > 0 else {
            throw ConfidentialTrainingError(.protocolViolation, "'\(TrainingCall.step)' takes a positive step count")
        }
        return try withJob { job in
            try commit(&job)
            var remaining = min(Int(clamping: count), job.plan.steps - job.trainer.stepsTaken)
            while remaining > 0 {
                var random = KeyedRandomStream(key: job.streamKey, stream: UInt64(job.trainer.stepsTaken))
                let noise = JobNoiseStreams(key: job.streamKey, step: job.trainer.stepsTaken)
                try job.trainer.step(on: job.train, random: &random, noiseStreams: noise, canaries: &job.canaries)
                remaining -= 1
            }
            let checkpoint = try seal(&job)
            return try CBORValue.map([
                CBORMapEntry("steps_taken", .unsigned(UInt64(job.trainer.stepsTaken))),
                CBORMapEntry("checkpoint", .bytes(checkpoint)),
            ]).encoded()
        }
    }

    /// Signs the finished model and its privacy report (the same model however often the job was restarted).
    func finish() throws -> [UInt8] {
        try withJob { job in
            try commit(&job)
            guard job.trainer.isFinished else {
                throw ConfidentialTrainingError(
                    .protocolViolation,
                    "'\(TrainingCall.finish)' before the last step (\(job.trainer.stepsTaken) of \(job.plan.steps))"
                )
            }
            let plan = job.plan
            let result = TrainingResult(
                trained: TrainedModel(
                    model: job.trainer.model, featureNames: job.featureNames, plan: plan,
                    privacy: try plan.privacy(afterSteps: job.trainer.stepsTaken)),
                accuracy: try job.trainer.model.accuracy(on: job.test), trainExamples: job.train.count,
                testExamples: job.test.count, resumedFromStep: job.resumedFromStep,
                requestDigest: job.requestDigest, nonce: job.nonce,
                audit: try job.audit.flatMap { audit in
                    try job.canaries?.report(delta: plan.delta, confidence: audit.confidence)
                })
            return try result.signed(with: enclave.key)
        }
    }

    /// Ends a finished job: deletes its monotonic counter, so the platform keeps no counter per finished job and no
    /// checkpoint of it opens again, and forgets the job.
    func retire() throws -> [UInt8] {
        try job.withLock { job in
            guard let finished = job, finished.trainer.isFinished, finished.pending == nil else {
                throw ConfidentialTrainingError(
                    .protocolViolation, "'\(TrainingCall.retire)' before '\(TrainingCall.finish)' of a finished job")
            }
            if let counter = finished.counter { try enclave.deleteCounter(counter.id) }
            job = nil
            return []
        }
    }

    /// Writes the split examples into the manifest's `dataset` region, training set first.
    private func store(_ setup: TrainingSetup) throws -> (train: SealedExamples, test: SealedExamples) {
        let name = EnclaveTrainer.datasetRegion
        guard let region = enclave.region(named: name) else {
            throw ConfidentialTrainingError(
                .protocolViolation, "the manifest declares no '\(name)' region to keep the dataset in")
        }
        let needed = SealedExamples.byteCount(
            count: setup.train.count + setup.test.count, featureCount: setup.train.featureCount)
        guard needed <= region.byteCount else {
            throw ConfidentialTrainingError(
                .datasetTooLarge,
                "the dataset takes \(needed) bytes of sealed memory; the manifest's '\(name)' region holds \(region.byteCount)"
            )
        }
        let train = try SealedExamples(storing: setup.train, in: region, at: 0)
        return (train, try SealedExamples(storing: setup.test, in: region, at: train.byteCount))
    }

    /// The sealed region (declared in `Manifests/dpsgd.toml`) that holds a job's examples.
    static let datasetRegion = "dataset"

    private func withJob<T>(_ body: (inout Job) throws -> T) throws -> T {
        try job.withLock { job in
            guard var current = job else {
                throw ConfidentialTrainingError(
                    .protocolViolation, "no training job: call '\(TrainingCall.begin)' first")
            }
            defer { job = current }
            return try body(&current)
        }
    }

    /// Seals the job's state, stamped with the counter's next value (the pending checkpoint).
    private func seal(_ job: inout Job) throws -> [UInt8] {
        let counter = try job.counter ?? enclave.createCounter()
        let stamp = MonotonicCounter(id: counter.id, value: counter.value + 1)
        job.counter = counter
        job.pending = stamp
        let state = try CBORValue.map(
            [
                CBORMapEntry("job", .bytes(job.jobID)),
                CBORMapEntry("trainer", .bytes(TrainingMessage.json(job.trainer))),
                CBORMapEntry("secret", .bytes(job.secret)),
            ] + (try job.canaries.map { [CBORMapEntry("canaries", .bytes(try TrainingMessage.json($0)))] } ?? [])
        )
        .encoded()
        return try enclave.seal(state, policy: .measurement, counter: stamp)
    }

    /// Advances the counter to the pending checkpoint's stamp: the host has stored it, so every earlier checkpoint
    /// is refused from now on.
    private func commit(_ job: inout Job) throws {
        guard let pending = job.pending else { return }
        job.counter = try enclave.incrementCounter(pending.id)
        job.pending = nil
        guard job.counter == pending else {
            throw ConfidentialTrainingError(
                .checkpointRejected, "the job's counter moved to \(job.counter?.value ?? 0), not \(pending.value)")
        }
    }

    /// The trainer, secret and audit canaries a checkpoint holds, after checking that it opens for this enclave, is
    /// stamped at or above its counter and belongs to this job (its plan, and canaries exactly when its `audit` asks
    /// for them); the counter is advanced to its stamp.
    private func resume(_ sealed: [UInt8], jobID: [UInt8], plan: DPSGDPlan, audit: AuditSpec?) throws -> (
        DPSGD, [UInt8], MonotonicCounter, GradientCanaries?
    ) {
        let state: CBORValue
        let counter: MonotonicCounter
        do {
            let blob = try SealedBlob(encoded: sealed)
            guard let stamp = blob.counter else {
                throw ConfidentialTrainingError(.checkpointRejected, "the checkpoint carries no rollback counter")
            }
            counter = stamp
            state = try CBORDecoder().decode(enclave.sealer.unseal(blob))
        } catch let error as SealingError where error.code == .rolledBack {
            throw ConfidentialTrainingError(
                .checkpointRejected,
                "the checkpoint is older than the last one stored for its job (rolled back): " + error.reason)
        } catch let error as EnclaveCallError where error.remoteCode == PersistenceError.Code.unknownCounter.rawValue {
            throw ConfidentialTrainingError(
                .checkpointRejected,
                "the checkpoint's job has finished and was retired (its monotonic counter is gone): remove the "
                    + "checkpoint to train anew")
        } catch let error as ConfidentialTrainingError {
            throw error
        } catch {
            throw ConfidentialTrainingError(.checkpointRejected, "the checkpoint does not open: \(error)")
        }
        let what = "the checkpoint"
        guard try TrainingMessage.bytes(state, "job", in: what) == jobID else {
            throw ConfidentialTrainingError(
                .checkpointRejected, "the checkpoint belongs to another training job (other data or parameters)")
        }
        let trainer = try TrainingMessage.decodeJSON(
            DPSGD.self, TrainingMessage.bytes(state, "trainer", in: what), "the checkpoint's trainer")
        // A centre is released with the first step, when the plan centres the features.
        let centred = plan.centringNoise != nil && trainer.stepsTaken > 0
        guard trainer.plan == plan, trainer.stepsTaken <= plan.steps,
            trainer.trainingModel.parameters.count == trainer.velocity.count,
            centred == (trainer.centre != nil), trainer.centre?.count ?? 0 == (centred ? trainer.model.featureCount : 0)
        else {
            throw ConfidentialTrainingError(.checkpointRejected, "the checkpoint's plan differs from this job's")
        }
        let canaries = try state["canaries"].map { _ in
            try TrainingMessage.decodeJSON(
                GradientCanaries.self, TrainingMessage.bytes(state, "canaries", in: what), "the checkpoint's canaries")
        }
        guard canaries?.count == audit?.canaries else {
            throw ConfidentialTrainingError(.checkpointRejected, "the checkpoint's audit differs from this job's")
        }
        let secret = try TrainingMessage.bytes(state, "secret", in: what)
        // A stamp one above the counter is the pending checkpoint the host stored before it was stopped.
        let current = try enclave.counterValue(counter.id)
        if current < counter.value {
            guard counter.value == current + 1, try enclave.incrementCounter(counter.id) == counter else {
                throw ConfidentialTrainingError(
                    .checkpointRejected, "the checkpoint's stamp \(counter.value) is out of step with its counter")
            }
        }
        return (trainer, secret, counter, canaries)
    }
}
