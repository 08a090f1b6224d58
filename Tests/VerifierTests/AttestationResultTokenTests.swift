import Attestation
import CloisterCrypto
import EnclavePlatform
import EnclaveProtocol
import Foundation
import RelyingParty
import Testing
import Verifier

/// A relying party checking a verifier service's EAR (what `fl client --verifier` does): each check refuses on its own.
@Suite("Attestation result tokens checked by a relying party")
struct AttestationResultTokenTests {
    let evidence: CloisterEvidence
    let enclaveKey: ECPrivateKey
    let nonce: [UInt8] = Array(repeating: 7, count: 32)

    init() throws {
        evidence = try CloisterEvidence()
        enclaveKey = try ECPrivateKey(generating: .p256)
    }

    func token(
        policy: Policy? = nil, signer: ResultSigner = testSigner, at time: Date = Date(), bindsKey: Bool = true
    ) throws -> String {
        let quote = try evidence.platform.quote(
            for: evidence.record,
            binding: QuoteBinding(nonce: nonce, publicKey: bindsKey ? enclaveKey.publicKey.derRepresentation : nil),
            at: time)
        let result = try Appraiser(evidence: EvidenceVerifier(trust: evidence.trust()), signer: signer).appraise(
            quote, policy: policy ?? evidence.policy, expectedNonce: nonce, at: time)
        return try #require(result.token)
    }

    @Test("an affirming EAR signed by the service yields the key the quote binds")
    func affirming() throws {
        let checked = try AttestationResultToken(try token(), jwks: testSigner.jwks, expectedNonce: nonce)
        let enclave = try checked.attestedEnclave(nonce: nonce)
        #expect(enclave.key == enclaveKey.publicKey && enclave.status == .affirming)
        #expect(enclave.measurement == evidence.policy.measurements.first)
    }

    @Test(
        "refused: another nonce, too old, from the future, another signer, a changed payload, not a JWT, contraindicated, no key"
    )
    func refusals() throws {
        let good = try token()
        #expect(throws: AttestationRefusal.self) {
            try AttestationResultToken(good, jwks: testSigner.jwks, expectedNonce: Array(repeating: 8, count: 32))
        }
        #expect(throws: AttestationRefusal.self) {
            try AttestationResultToken(
                good, jwks: testSigner.jwks, expectedNonce: nonce, at: Date().addingTimeInterval(301))
        }
        let issuedAhead = try token(at: Date().addingTimeInterval(Appraiser.allowedClockSkew + 60))
        #expect(throws: AttestationRefusal.self) {
            try AttestationResultToken(issuedAhead, jwks: testSigner.jwks, expectedNonce: nonce)
        }
        let keyless = try AttestationResultToken(
            try token(bindsKey: false), jwks: testSigner.jwks, expectedNonce: nonce)
        #expect(keyless.status == .affirming)
        #expect(throws: AttestationRefusal.self) { try keyless.attestedEnclave(nonce: nonce) }
        let other = try ResultSigner(key: ECPrivateKey(generating: .p256), build: "impostor")
        #expect(throws: AttestationRefusal.self) {
            try AttestationResultToken(try token(signer: other), jwks: testSigner.jwks, expectedNonce: nonce)
        }
        var parts = good.split(separator: ".").map(String.init)
        parts[1] = String(parts[1].dropLast()) + (parts[1].last == "A" ? "B" : "A")
        #expect(throws: AttestationRefusal.self) {
            try AttestationResultToken(parts.joined(separator: "."), jwks: testSigner.jwks, expectedNonce: nonce)
        }
        #expect(throws: AttestationRefusal.self) {
            try AttestationResultToken("not.a-jwt", jwks: testSigner.jwks, expectedNonce: nonce)
        }
        var strict = evidence.policy
        strict.measurements = [String(repeating: "00", count: 48)]
        let contraindicated = try AttestationResultToken(
            try token(policy: strict), jwks: testSigner.jwks, expectedNonce: nonce)
        #expect(contraindicated.status == .contraindicated)
        #expect(throws: AttestationRefusal.self) { try contraindicated.attestedEnclave(nonce: nonce) }
    }
}
