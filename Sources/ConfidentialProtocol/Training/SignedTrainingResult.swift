import CloisterCBOR
public import CloisterCrypto
public import Learning

/// What the enclave publishes at the end of a run, signed (COSE_Sign1, ES256) by the key its quote binds: the
/// trained model with its plan and privacy report, the test accuracy, and what ties it to one request — the digest
/// of the request ciphertext and the client's nonce.
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

    public init(
        trained: TrainedModel, accuracy: Double, trainExamples: Int, testExamples: Int, resumedFromStep: Int,
        requestDigest: [UInt8], nonce: [UInt8]
    ) {
        self.trained = trained
        self.accuracy = accuracy
        self.trainExamples = trainExamples
        self.testExamples = testExamples
        self.resumedFromStep = resumedFromStep
        self.requestDigest = requestDigest
        self.nonce = nonce
    }

    /// The COSE_Sign1 message signed with `key`.
    public func signed(with key: ECPrivateKey) throws -> [UInt8] {
        let payload = try CBORValue.map([
            CBORMapEntry("model", .bytes(trained.encoded())), CBORMapEntry("accuracy", .float(accuracy)),
            CBORMapEntry("train_examples", .unsigned(UInt64(trainExamples))),
            CBORMapEntry("test_examples", .unsigned(UInt64(testExamples))),
            CBORMapEntry("resumed_from_step", .unsigned(UInt64(resumedFromStep))),
            CBORMapEntry("request_digest", .bytes(requestDigest)), CBORMapEntry("nonce", .bytes(nonce)),
        ]).encoded()
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
    }
}
