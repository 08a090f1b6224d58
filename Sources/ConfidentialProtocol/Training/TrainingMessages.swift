package import CloisterCBOR
import CloisterCrypto
import FoundationEssentials
public import Learning

/// The `dpsgd` workload's ECALLs and the messages they carry (deterministic CBOR). Only `TrainingRequest` holds
/// private data, and it crosses the host only as HPKE ciphertext to the key the enclave's quote binds.
///
/// 1. `dpsgd.begin` {"encapsulated_key", "ciphertext", "checkpoint": sealed bytes or null} → {"steps",
///    "steps_taken"}: the enclave opens the request, prepares the run, and resumes from the checkpoint when given.
/// 2. `dpsgd.step` (unsigned: the most steps to run) → {"steps_taken", "checkpoint"}: the host stores the sealed
///    checkpoint, replacing the previous one.
/// 3. `dpsgd.finish` → `SignedTrainingResult` (COSE_Sign1 by the enclave key).
/// 4. `dpsgd.retire` → nothing: the host has verified the result and removed its checkpoint; the enclave deletes the
///    job's monotonic counter (no checkpoint of the job opens again) and forgets the job.
public enum TrainingCall {
    public static let begin = "dpsgd.begin"
    public static let step = "dpsgd.step"
    public static let finish = "dpsgd.finish"
    public static let retire = "dpsgd.retire"
    /// HPKE `info` (RFC 9180 §5.1) of the request encryption: binds the ciphertext to this use.
    public static let hpkeInfo = Array("cloister dpsgd training request v1".utf8)
    /// HPKE exporter context (RFC 9180 §5.3) of the secret that, with the enclave's own key, keys a job's randomness.
    public static let randomnessContext = Array("cloister dpsgd job randomness v1".utf8)
    /// The largest `begin` argument (the sealed request: spec, CSV, schema, checkpoint) the enclave accepts: 16 MiB,
    /// what the CBOR decoders on its path take. A larger one is refused with `dataset-too-large` (the enclave stays
    /// up); `TrainingClient` and `cloister dp train` refuse it before sending (`checkRequestSize`).
    public static let maximumRequestSize = CBORLimits.default.maximumInputSize

    /// Refuses `byteCount` bytes of `what` (a file, or the request) when a request holding them would be past
    /// `maximumRequestSize`: `dataset-too-large`, naming `what` and the limit.
    public static func checkRequestSize(_ byteCount: Int, of what: String) throws(ConfidentialTrainingError) {
        guard byteCount <= maximumRequestSize else {
            throw ConfidentialTrainingError(
                .datasetTooLarge,
                "\(what) takes \(byteCount) bytes; the dpsgd enclave accepts a training request of at most \(maximumRequestSize) bytes (\(maximumRequestSize >> 20) MiB)"
            )
        }
    }
}

/// What the data owner sends, encrypted: the spec, the CSV, the optional public-bounds schema, and the nonce the
/// enclave's quote and signed result both bind.
public struct TrainingRequest: Sendable, Equatable {
    public let spec: TrainingSpec
    public let csv: [UInt8]
    public let schema: [UInt8]?
    public let nonce: [UInt8]

    public init(spec: TrainingSpec, csv: [UInt8], schema: [UInt8]?, nonce: [UInt8]) {
        self.spec = spec
        self.csv = csv
        self.schema = schema
        self.nonce = nonce
    }

    /// The job: SHA-256 over spec, data and schema (not the nonce), so a rerun of the same job matches its
    /// checkpoint. It stays inside the enclave and its sealed checkpoints.
    public var jobID: [UInt8] {
        get throws { DigestAlgorithm.sha256.hash(try CBORValue.map(jobEntries()).encoded()) }
    }

    public func encoded() throws -> [UInt8] {
        try CBORValue.map(jobEntries() + [CBORMapEntry("nonce", .bytes(nonce))]).encoded()
    }

    private func jobEntries() throws -> [CBORMapEntry] {
        [
            CBORMapEntry("spec", .bytes(try TrainingMessage.json(spec))), CBORMapEntry("csv", .bytes(csv)),
            CBORMapEntry("schema", schema.map(CBORValue.bytes) ?? .null),
        ]
    }

    public init(encoded: [UInt8]) throws {
        let value: CBORValue
        do {
            value = try CBORDecoder(limits: CBORLimits(maximumInputSize: TrainingCall.maximumRequestSize))
                .decode(encoded)
        } catch {
            throw ConfidentialTrainingError(.protocolViolation, "the training request is not CBOR: \(error)")
        }
        guard let spec = value["spec"]?.bytesValue, let csv = value["csv"]?.bytesValue,
            let nonce = value["nonce"]?.bytesValue, let schema = value["schema"]
        else {
            throw ConfidentialTrainingError(
                .protocolViolation, "the training request needs \"spec\", \"csv\", \"schema\" and \"nonce\"")
        }
        self.spec = try TrainingMessage.decodeJSON(TrainingSpec.self, spec, "the training spec")
        self.csv = csv
        self.schema = schema == .null ? nil : schema.bytesValue
        self.nonce = nonce
    }
}

/// Shared helpers for the messages' JSON members and CBOR fields.
package enum TrainingMessage {
    package static func json(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(value))
    }

    package static func decodeJSON<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw ConfidentialTrainingError(.protocolViolation, "\(what) is not valid: \(error)")
        }
    }

    package static func unsigned(_ value: CBORValue, _ key: String, in message: String) throws -> Int {
        guard let number = value[.text(key)]?.uint64Value, number <= UInt64(Int.max) else {
            throw ConfidentialTrainingError(.protocolViolation, "\(message) lacks the unsigned \"\(key)\"")
        }
        return Int(number)
    }

    package static func bytes(_ value: CBORValue, _ key: String, in message: String) throws -> [UInt8] {
        guard let bytes = value[.text(key)]?.bytesValue else {
            throw ConfidentialTrainingError(.protocolViolation, "\(message) lacks the byte string \"\(key)\"")
        }
        return bytes
    }
}
