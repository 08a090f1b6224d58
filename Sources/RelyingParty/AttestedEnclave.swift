import Attestation
import CloisterCBOR
public import CloisterCrypto
import EnclaveProtocol
public import FoundationEssentials
public import Verifier

/// An enclave whose quote passed appraisal on a fresh nonce: the P-256 key the quote binds (what a relying party
/// encrypts to and checks signatures with), the nonce it answered, the appraisal's status and the measurement.
public struct AttestedEnclave: Sendable {
    public let key: ECPublicKey
    public let nonce: [UInt8]
    public let status: AppraisalStatus
    public let measurement: String?

    public init(key: ECPublicKey, nonce: [UInt8], status: AppraisalStatus, measurement: String?) {
        self.key = key
        self.nonce = nonce
        self.status = status
        self.measurement = measurement
    }

    /// The P-256 key in a quote's `public_key` claim (SubjectPublicKeyInfo DER, hex).
    static func key(claim hex: String?) throws -> ECPublicKey {
        guard let hex, let der = hexDecoded(hex), let key = try? ECPublicKey(derRepresentation: der),
            key.curve == .p256
        else {
            throw AttestationRefusal(reason: "the enclave's quote binds no P-256 public key")
        }
        return key
    }
}

/// Why an enclave was not attested: every failing check, by name.
public struct AttestationRefusal: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }

    public init(reason: String) {
        self.reason = reason
    }
}

extension Appraiser {
    /// Asks `call` (the untrusted host's relay to the enclave's `cloister.quote` ECALL) for a quote on a fresh
    /// 32-byte nonce and appraises it under `policy`, with the nonce required, at `time`; the quote may take any
    /// evidence kind the registry reads (bound evidence states its nonce and key once its report data binds them). Throws
    /// `AttestationRefusal` naming every failing check, or when the quote binds no P-256 key.
    public func attestEnclave(
        policy: Policy, at time: Date = Date(), call: (_ function: String, _ argument: [UInt8]) throws -> [UInt8]
    ) throws -> AttestedEnclave {
        let challenge = try QuoteChallenge()
        return try appraise(
            call(EnclaveMain.quoteFunction, challenge.argument), of: challenge, policy: policy, at: time)
    }

    /// `attestEnclave(policy:at:call:)` over an asynchronous relay (the federation clients' HTTP transport).
    public func attestEnclave(
        policy: Policy, at time: Date = Date(),
        call: (_ function: String, _ argument: [UInt8]) async throws -> [UInt8]
    ) async throws -> AttestedEnclave {
        let challenge = try QuoteChallenge()
        return try appraise(
            await call(EnclaveMain.quoteFunction, challenge.argument), of: challenge, policy: policy, at: time)
    }

    private func appraise(
        _ quote: [UInt8], of challenge: QuoteChallenge, policy: Policy, at time: Date
    ) throws -> AttestedEnclave {
        var policy = policy
        policy.requireNonce = true
        let appraisal = evaluate(quote, policy: policy, expectedNonce: challenge.nonce, at: time)
        guard appraisal.status != .contraindicated else {
            let failures = appraisal.failures.map { "\($0.name): \($0.detail)" }.joined(separator: "; ")
            throw AttestationRefusal(reason: "the enclave's quote is refused under policy '\(policy.id)': \(failures)")
        }
        return AttestedEnclave(
            key: try AttestedEnclave.key(claim: appraisal.claims?.publicKey), nonce: challenge.nonce,
            status: appraisal.status, measurement: appraisal.claims?.measurement)
    }
}

/// A fresh 32-byte nonce and the `cloister.quote` argument that asks for a quote on it.
private struct QuoteChallenge {
    let nonce: [UInt8]
    let argument: [UInt8]

    init() throws {
        nonce = try SecureRandom.bytes(count: 32)
        argument = try CBORValue.map([CBORMapEntry("nonce", .bytes(nonce)), CBORMapEntry("user_data", .null)])
            .encoded()
    }
}
