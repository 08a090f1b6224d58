import CloisterCBOR
public import CloisterCrypto
public import Learning

/// What the enclave publishes at the end of a run, signed (COSE_Sign1, ES256) by the key its quote binds: the
/// trained model with its plan and privacy report, the test accuracy, the one-run audit's report when the job ran one,
/// and what ties it to one request — the digest of the request ciphertext and the client's nonce.
public struct TrainingResult: Sendable, Equatable {
    public let trained: TrainedModel
    public let accuracy: Double
    public let trainExamples: Int
    public let testExamples: Int
    /// The step the run resumed from (0 for a run that started fresh).
    public let resumedFromStep: Int
    /// SHA-256 of the HPKE ciphertext of the request this answers.
    public let requestDigest: [UInt8]
    public let nonce: [UInt8]
    /// What the job's audit found (`AuditReport`); nil when it ran none.
    public let audit: AuditReport?

    public init(
        trained: TrainedModel, accuracy: Double, trainExamples: Int, testExamples: Int, resumedFromStep: Int,
        requestDigest: [UInt8], nonce: [UInt8], audit: AuditReport? = nil
    ) {
        self.trained = trained
        self.accuracy = accuracy
        self.trainExamples = trainExamples
        self.testExamples = testExamples
        self.resumedFromStep = resumedFromStep
        self.requestDigest = requestDigest
        self.nonce = nonce
        self.audit = audit
    }

    /// The COSE_Sign1 message signed with `key`.
    public func signed(with key: ECPrivateKey) throws -> [UInt8] {
        let payload = try CBORValue.map(
            [
                CBORMapEntry("model", .bytes(trained.encoded())), CBORMapEntry("accuracy", .float(accuracy)),
                CBORMapEntry("train_examples", .unsigned(UInt64(trainExamples))),
                CBORMapEntry("test_examples", .unsigned(UInt64(testExamples))),
                CBORMapEntry("resumed_from_step", .unsigned(UInt64(resumedFromStep))),
                CBORMapEntry("request_digest", .bytes(requestDigest)), CBORMapEntry("nonce", .bytes(nonce)),
            ] + (try audit.map { [CBORMapEntry("audit", .bytes(try TrainingMessage.json($0)))] } ?? [])
        ).encoded()
        return try COSESign1(signing: payload, with: key).encoded()
    }

    /// Opens a signed result: the signature must verify with `publicKey` (the key the verified quote binds).
    public init(signed bytes: [UInt8], publicKey: ECPublicKey) throws {
        let message: COSESign1
        do {
            message = try COSESign1(encoded: bytes)
            try message.verifySignature(with: publicKey)
        } catch {
            throw ConfidentialTrainingError(
                .resultRejected, "the enclave's signed result does not verify with the attested key: \(error)")
        }
        let what = "the signed training result"
        let payload = try CBORDecoder().decode(message.payload)
        guard let accuracy = payload["accuracy"]?.doubleValue else {
            throw ConfidentialTrainingError(.resultRejected, "\(what) lacks \"accuracy\"")
        }
        do {
            trained = try TrainedModel(json: TrainingMessage.bytes(payload, "model", in: what))
        } catch {
            throw ConfidentialTrainingError(.resultRejected, "\(what) carries no valid model: \(error)")
        }
        self.accuracy = accuracy
        trainExamples = try TrainingMessage.unsigned(payload, "train_examples", in: what)
        testExamples = try TrainingMessage.unsigned(payload, "test_examples", in: what)
        resumedFromStep = try TrainingMessage.unsigned(payload, "resumed_from_step", in: what)
        requestDigest = try TrainingMessage.bytes(payload, "request_digest", in: what)
        nonce = try TrainingMessage.bytes(payload, "nonce", in: what)
        audit =
            payload["audit"] == nil
            ? nil
            : try TrainingMessage.decodeJSON(
                AuditReport.self, TrainingMessage.bytes(payload, "audit", in: what), "\(what)'s audit")
    }
}

extension TrainingResult {
    /// Refuses a result that answers another request (`ciphertext`, `nonce`), or whose plan, example counts or
    /// privacy report are not what `setup` (the client's own preparation of the same data) gives.
    public func check(answers ciphertext: [UInt8], nonce: [UInt8], setup: TrainingSetup) throws {
        guard self.nonce == nonce, requestDigest == DigestAlgorithm.sha256.hash(ciphertext) else {
            throw ConfidentialTrainingError(.resultRejected, "the signed result answers another request")
        }
        let plan = trained.plan
        guard plan == setup.plan, trainExamples == setup.train.count, testExamples == setup.test.count else {
            throw ConfidentialTrainingError(.resultRejected, "the signed result's plan is not the one this job makes")
        }
        guard trained.privacy == (try plan.privacy(afterSteps: plan.steps)) else {
            throw ConfidentialTrainingError(
                .resultRejected, "the signed privacy report is not what the accountant gives for its plan")
        }
        try check(audit: setup.spec.audit, delta: plan.delta)
    }

    /// Refuses an audit report that is not the one `asked` (the job's) calls for: present exactly when asked, with its
    /// canaries, confidence and ceiling, and no more right guesses than guesses or guesses than canaries.
    private func check(audit asked: AuditSpec?, delta: Double) throws {
        let refused = ConfidentialTrainingError(
            .resultRejected, "the signed result's audit is not the one this job asked for")
        switch (audit, asked) {
        case (nil, nil): return
        case (let report?, let asked?):
            let ceiling = try GradientCanaries.ceiling(
                count: asked.canaries, delta: delta, confidence: asked.confidence)
            guard report.canaries == asked.canaries, report.confidence == asked.confidence,
                report.epsilonLowerMax == ceiling, report.guesses <= report.canaries, report.correct <= report.guesses
            else { throw refused }
        default: throw refused
        }
    }
}
