public import CloisterErrors
public import EnclaveProtocol

/// Why a confidential training run was refused, by the client or inside the enclave: a stable `code` for programs,
/// a `reason` naming the failing check for people.
public struct ConfidentialTrainingError: CodedError {
    public typealias Code = ErrorCode<ConfidentialTrainingError>

    public let code: Code
    public let reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    /// The enclave's refusal carried across the ECALL channel, when its code is one of ours.
    public init?(_ error: EnclaveCallError) {
        guard let remote = error.remoteCode, let code = Code.all.first(where: { $0.rawValue == remote }) else {
            return nil
        }
        self.init(code, error.reason)
    }
}

extension ErrorCode where Domain == ConfidentialTrainingError {
    /// The enclave's quote failed appraisal (the result names every failing check) or binds no usable key.
    public static let attestationRefused = Self("attestation-refused")
    /// The enclave's signed result does not verify, or does not answer this request.
    public static let resultRejected = Self("result-rejected")
    /// A message between client and enclave is malformed or out of order.
    public static let protocolViolation = Self("protocol-violation")
    /// A checkpoint that does not open, belongs to another job, or was rolled back.
    public static let checkpointRejected = Self("checkpoint-rejected")
    /// The dataset does not fit the sealed region the manifest declares for it.
    public static let datasetTooLarge = Self("dataset-too-large")

    /// Every code above, to recognise one that crossed the ECALL channel as text.
    public static let all: [Self] = [
        .attestationRefused, .resultRejected, .protocolViolation, .checkpointRejected, .datasetTooLarge,
    ]
}
