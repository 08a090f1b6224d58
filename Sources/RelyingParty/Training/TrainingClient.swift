import Attestation
import CloisterCBOR
public import CloisterCrypto
public import ConfidentialProtocol
public import EnclaveProtocol
public import Foundation
public import Learning
public import Verifier

/// The data owner's side of confidential training. It reaches the enclave only through `transport` (the untrusted
/// host's ECALL relay) and sends nothing before the enclave's quote passes appraisal on a fresh nonce; the request
/// crosses the host only HPKE-encrypted to the key that quote binds, and the result is accepted only when the
/// attested key signed it for this request and its privacy report is what the accountant gives for its plan.
public struct TrainingClient: Sendable {
    /// Calls an ECALL of the enclave (function name, argument) and returns its result.
    public typealias Transport = @Sendable (_ function: String, _ argument: [UInt8]) throws -> [UInt8]

    public let transport: Transport
    public let appraiser: Appraiser
    /// The policy the quote must satisfy; a nonce is always required on top of it (`Appraiser.attestEnclave`).
    public let policy: Policy

    public init(transport: @escaping Transport, appraiser: Appraiser, policy: Policy) {
        self.transport = transport
        self.appraiser = appraiser
        self.policy = policy
    }

    /// Asks for a quote on a fresh nonce and appraises it at `time`; throws `attestationRefused` naming every
    /// failing check.
    public func attest(at time: Date = Date()) throws -> AttestedEnclave {
        do {
            return try appraiser.attestEnclave(policy: policy, at: time, call: call)
        } catch let refusal as AttestationRefusal {
            throw ConfidentialTrainingError(.attestationRefused, refusal.reason)
        }
    }

    /// Runs `setup` (prepared here from the same data, so the enclave's plan can be checked) in `enclave`: sends the
    /// encrypted request with the checkpoint in `checkpoint` if there is one (first removing the temporary files a
    /// killed writer of it left), drives the steps, stores each new
    /// sealed checkpoint there atomically, and returns the verified result. Once the result verifies, the checkpoint
    /// is removed and the enclave retires the job (deletes its monotonic counter); a host stopped in between leaves at
    /// most one counter behind, never a checkpoint that cannot be resumed. `progress(stepsTaken, steps)` follows the run.
    public func train(
        csv: [UInt8], schema: [UInt8]?, setup: TrainingSetup, in enclave: AttestedEnclave, checkpoint: AtomicFile?,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> TrainingResult {
        let request = TrainingRequest(spec: setup.spec, csv: csv, schema: schema, nonce: enclave.nonce)
        let (encapsulatedKey, ciphertext) = try HPKE.seal(
            request.encoded(), to: enclave.key, info: TrainingCall.hpkeInfo)
        try checkpoint?.removeStaleTemporaries()
        let previous = try checkpoint.flatMap { $0.exists ? try $0.read() : nil }
        let argument = try CBORValue.map([
            CBORMapEntry("encapsulated_key", .bytes(encapsulatedKey)),
            CBORMapEntry("ciphertext", .bytes(ciphertext)),
            CBORMapEntry("checkpoint", previous.map(CBORValue.bytes) ?? .null),
        ]).encoded()
        try TrainingCall.checkRequestSize(
            argument.count, of: "the training request (data, schema, options, checkpoint)")
        let begun = try CBORDecoder().decode(call(TrainingCall.begin, argument))
        let what = "the enclave's reply to '\(TrainingCall.begin)'"
        let steps = try TrainingMessage.unsigned(begun, "steps", in: what)
        var taken = try TrainingMessage.unsigned(begun, "steps_taken", in: what)
        guard steps == setup.plan.steps, taken <= steps else {
            throw ConfidentialTrainingError(
                .protocolViolation, "\(what) plans \(steps) steps from step \(taken); this job has \(setup.plan.steps)")
        }
        progress(taken, steps)
        let chunk = max(1, steps / 50)
        while taken < steps {
            let reply = try CBORDecoder().decode(
                call(TrainingCall.step, CBORValue.unsigned(UInt64(chunk)).encoded()))
            let what = "the enclave's reply to '\(TrainingCall.step)'"
            let now = try TrainingMessage.unsigned(reply, "steps_taken", in: what)
            guard now > taken, now <= steps else {
                throw ConfidentialTrainingError(.protocolViolation, "\(what) went from step \(taken) to \(now)")
            }
            try checkpoint?.write(TrainingMessage.bytes(reply, "checkpoint", in: what))
            taken = now
            progress(taken, steps)
        }
        let result = try TrainingResult(signed: call(TrainingCall.finish, []), publicKey: enclave.key)
        try result.check(answers: ciphertext, nonce: enclave.nonce, setup: setup)
        try checkpoint?.remove()
        _ = try call(TrainingCall.retire, [])
        return result
    }

    /// Calls the enclave through the transport; a refusal the enclave raised (a rejected checkpoint, a dataset too
    /// large for its region, ...) comes back as that `ConfidentialTrainingError`, with the enclave's reason.
    private func call(_ function: String, _ argument: [UInt8]) throws -> [UInt8] {
        do {
            return try transport(function, argument)
        } catch let error as EnclaveCallError {
            throw ConfidentialTrainingError(error) ?? error
        }
    }
}
