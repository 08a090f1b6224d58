import CloisterCBOR
import CloisterCrypto
import CloisterErrors
public import EnclaveProtocol
public import Federated
public import FoundationEssentials
public import Learning

/// The `fedavg` workload's ECALLs and the HPKE context of client updates.
public enum FederationCall {
    /// Host → enclave, once: the `FederationConfig` (JSON). Returns the signed `FederationDescriptor`.
    public static let begin = "fedavg.begin"
    /// Returns the signed `FederationDescriptor`.
    public static let descriptor = "fedavg.descriptor"
    /// Returns the signed current global model (`ModelState` header).
    public static let state = "fedavg.state"
    /// A client's update (`SealedUpdate`): CBOR {"encapsulated_key", "ciphertext"}, HPKE-sealed parameters and
    /// signed `UpdateHeader`. Returns the signed `Receipt`.
    public static let submit = "fedavg.submit"
    /// Several `submit` arguments at once (a CBOR array of byte strings, at most `maximumBatchCount` of them and
    /// `maximumBatchSize` bytes in all), opened and checked in parallel on every core and admitted in order; returns
    /// one `BatchOutcome` per update, in order. The host batches the updates that queue while the enclave is busy.
    public static let submitBatch = "fedavg.submitBatch"
    /// Closes the open round if it may close now; returns the signed new `ModelState`.
    public static let close = "fedavg.close"
    /// HPKE `info` of an update sealed to the aggregator.
    public static let hpkeInfo = Array("cloister fedavg update v2".utf8)
    /// The largest `submit` argument (a sealed update) the enclave accepts: 16 MiB, what the CBOR decoders on its
    /// path take. A larger one is refused with `update-too-large` (the enclave stays up); the host refuses it
    /// before relaying it (HTTP 413).
    public static let maximumUpdateSize = CBORLimits.default.maximumInputSize
    /// The most parameters a federated model may have, so that an update of it (4 bytes each, plus 64 KiB for the
    /// keys, signature and header around them) fits `maximumUpdateSize`; `begin` refuses a larger model.
    public static let maximumParameterCount = (maximumUpdateSize - (64 << 10)) / 4
    /// The most updates one `submitBatch` carries.
    public static let maximumBatchCount = 4_096
    /// The largest `submitBatch` argument: one of the largest updates or several smaller ones, 24 MiB in all. A
    /// batch and its copies stay under the 32 MiB that glibc's allocator will serve from memory it keeps
    /// (`HeapPolicy`); larger blocks are mapped and faulted in afresh for every batch.
    public static let maximumBatchSize = maximumUpdateSize + (8 << 20)
}

/// What became of one update of a `submitBatch`: the enclave's signed receipt, or its refusal.
public enum BatchOutcome: Sendable, Equatable {
    case receipt([UInt8])
    case refused(FederationError)

    /// The batch's answer: a CBOR array of `{"receipt": bytes}` or `{"code": text, "reason": text}`.
    public static func encoded(_ outcomes: [BatchOutcome]) throws -> [UInt8] {
        try CBORValue.array(
            outcomes.map { outcome in
                switch outcome {
                case .receipt(let bytes): .map([CBORMapEntry("receipt", .bytes(bytes))])
                case .refused(let error):
                    .map([
                        CBORMapEntry("code", .text(error.code.rawValue)), CBORMapEntry("reason", .text(error.reason)),
                    ])
                }
            }
        ).encoded()
    }

    /// The outcomes of a batch of `count` updates, or a protocol violation naming what is wrong with the answer.
    public static func decoded(_ bytes: [UInt8], count: Int) throws(FederationError) -> [BatchOutcome] {
        guard let items = (try? CBORDecoder().decode(bytes))?.arrayValue, items.count == count else {
            throw FederationError(
                .protocolViolation, "the enclave's answer to a batch of \(count) updates is not \(count) outcomes")
        }
        return try items.map { item throws(FederationError) in
            if let receipt = item[.text("receipt")]?.bytesValue { return .receipt(receipt) }
            guard let code = item[.text("code")]?.textValue, let reason = item[.text("reason")]?.textValue else {
                throw FederationError(
                    .protocolViolation, "an outcome in the enclave's batch answer has no receipt or code")
            }
            return .refused(FederationError(named: code, reason))
        }
    }
}

/// The shape of the federated model: which `Learning.Model` clients train (the enclave builds the initial one).
public struct ModelSpec: Sendable, Codable, Hashable {
    public let kind: ModelKind
    public let featureCount: Int
    public let classCount: Int
    public let hiddenUnits: Int
    public let seed: UInt64

    public init(kind: ModelKind, featureCount: Int, classCount: Int, hiddenUnits: Int = 32, seed: UInt64 = 0) {
        self.kind = kind
        self.featureCount = featureCount
        self.classCount = classCount
        self.hiddenUnits = hiddenUnits
        self.seed = seed
    }

    /// The initial model of this shape (zeros, or the seeded MLP weights).
    public func makeModel() throws -> Model {
        try Model(kind: kind, featureCount: featureCount, classCount: classCount, hiddenUnits: hiddenUnits, seed: seed)
    }
}

/// What the host asks the enclave to run: the plan, the registered clients' public keys (SubjectPublicKeyInfo DER,
/// hex), and the model. The enclave signs it back as the `FederationDescriptor`, so clients see exactly what runs.
public struct FederationConfig: Sendable, Codable, Equatable {
    public let plan: FederationPlan
    public let clientKeys: [String: String]
    public let model: ModelSpec

    public init(plan: FederationPlan, clientKeys: [String: String], model: ModelSpec) {
        self.plan = plan
        self.clientKeys = clientKeys
        self.model = model
    }
}

/// The federation as the enclave runs it, signed by the enclave: a fresh random identifier (so updates for another
/// run of the same configuration are refused) and the configuration.
public struct FederationDescriptor: Sendable, Codable, Equatable {
    public let federationID: String
    public let config: FederationConfig

    package init(federationID: String, config: FederationConfig) {
        self.federationID = federationID
        self.config = config
    }
}

/// A global model as published after a round (or the initial one, round 0), signed by the enclave.
public struct ModelState: Sendable, Codable, Equatable {
    public let federationID: String
    public let completedRounds: Int
    /// The round clients may submit to now (nil once finished), and who was sampled into it.
    public let openRound: Int?
    public let cohort: [String]
    /// Who contributed to this model.
    public let participants: [String]
    /// Client-level privacy of everything published so far (nil without DP).
    public let privacy: PrivacyReport?
    public let finishReason: String?
    /// With DP, the L2 bound the open round clips updates to (it moves with adaptive clipping); nil without DP, and in
    /// statements from before it was published.
    public let clipNorm: Double?
    /// The server optimizer's spelling and the steps it has taken (nil without one, and in statements from before it
    /// was published).
    public let serverOptimizer: ServerOptimizerSummary?

    package init(
        federationID: String, completedRounds: Int, openRound: Int?, cohort: [String], participants: [String],
        privacy: PrivacyReport?, finishReason: String?, clipNorm: Double?, serverOptimizer: ServerOptimizerSummary?
    ) {
        self.federationID = federationID
        self.completedRounds = completedRounds
        self.openRound = openRound
        self.cohort = cohort
        self.participants = participants
        self.privacy = privacy
        self.finishReason = finishReason
        self.clipNorm = clipNorm
        self.serverOptimizer = serverOptimizer
    }
}

/// What a client signs with its registered key and seals to the enclave with its parameters (`SealedUpdate`).
public struct UpdateHeader: Sendable, Codable, Equatable {
    public let federationID: String
    public let round: Int
    public let client: String
    public let exampleCount: Int
    /// The HPKE encapsulated key (hex) of the sealed update this header travels in: the signature binds the client
    /// to that one ciphertext, whose AEAD tag authenticates the parameters.
    public let encapsulatedKey: String

    public init(federationID: String, round: Int, client: String, exampleCount: Int, encapsulatedKey: String) {
        self.federationID = federationID
        self.round = round
        self.client = client
        self.exampleCount = exampleCount
        self.encapsulatedKey = encapsulatedKey
    }
}

/// The enclave's signed acknowledgement of an accepted update: a client can prove its update entered the round.
public struct Receipt: Sendable, Codable, Equatable {
    public let federationID: String
    public let round: Int
    public let client: String
    /// Names the sealed update accepted (`Receipt.digest(encapsulatedKey:ciphertext:)`).
    public let updateDigest: String
    public let accepted: Int

    package init(federationID: String, round: Int, client: String, updateDigest: String, accepted: Int) {
        self.federationID = federationID
        self.round = round
        self.client = client
        self.updateDigest = updateDigest
        self.accepted = accepted
    }

    /// SHA-256 (hex) of a sealed update's encapsulated key and its ciphertext's AEAD tag (the last 16 bytes). The
    /// encapsulated key is fresh for every update and the tag authenticates the whole ciphertext under the key it
    /// derives, so for anyone without that key (the host, other clients) the pair names one sealed update, without
    /// hashing its megabytes a second time. Its own client, which holds the key, could make another ciphertext with
    /// the same tag: a receipt is no evidence against it of what it sent (`SealedUpdate`).
    public static func digest(encapsulatedKey: [UInt8], ciphertext: ArraySlice<UInt8>) -> String {
        // Indexed, not `suffix`: on a generic sequence that walks all the megabytes.
        let tag = ciphertext[max(ciphertext.startIndex, ciphertext.endIndex - AESGCMKey.tagByteCount)...]
        return hexEncoded(DigestAlgorithm.sha256.hash(encapsulatedKey + tag))
    }
}

extension FederationError {
    /// The federation error the enclave's handler threw, recovered from the ECALL failure that carried it; nil for
    /// any other failure.
    public init?(_ error: EnclaveCallError) {
        guard let remote = error.remoteCode, let code = Code.named(remote) else { return nil }
        self.init(code, error.reason)
    }

    /// The refusal a peer reported by its code's name (an enclave's batch answer, a host's JSON error); a name no
    /// federation code has is a protocol violation.
    public init(named name: String, _ reason: String) {
        self.init(Code.named(name) ?? .protocolViolation, reason)
    }
}

extension ErrorCode where Domain == FederationError {
    /// The code whose name is `name`, if any.
    static func named(_ name: String) -> Self? {
        all.first { $0.rawValue == name }
    }
}
