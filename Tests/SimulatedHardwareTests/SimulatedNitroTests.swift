import Attestation
import CloisterCBOR
import CloisterCrypto
import Foundation
import SimulatedHardware
import Testing
import Verifier

/// A simulated enclave: measurement, signer and manifest hash from `seed`.
func simulatedEnclave(seed: UInt8 = 1, debug: Bool = false, reportData: [UInt8] = [UInt8](repeating: 0, count: 64))
    -> SimulatedEnclave
{
    SimulatedEnclave(
        measurement: DigestAlgorithm.sha384.hash([seed, 1]), signer: DigestAlgorithm.sha384.hash([seed, 2]),
        productID: 7, svn: 3, debug: debug, manifestHash: DigestAlgorithm.sha384.hash([seed, 3]),
        reportData: reportData)
}

private let platformID = [UInt8](repeating: 0x5a, count: 16)
private let now = Date(timeIntervalSince1970: 1_790_000_000)

@Suite("Nitro-shaped simulated documents: Nitro's fields exactly, simulated by their anchor, revocable")
struct SimulatedNitroTests {
    let vendor: SimulatedNitroVendor

    init() throws {
        vendor = try SimulatedNitroVendor.create(platformID: platformID, at: now)
    }

    private func verify(_ document: [UInt8], revoked: Bool = false) throws -> EvidenceVerifier.Outcome {
        let lists = try vendor.revocationLists(
            SimulatedTCB(level: 1, latestLevel: 1, isRevoked: revoked), number: 1, at: now)
        let trust = TrustStore([.nitro: TrustStore.FormatTrust(roots: [vendor.rootCertificate], revocationLists: lists)]
        )
        return EvidenceVerifier(trust: trust).verify(document, at: now + 60)
    }

    @Test("a document carries Nitro's nine fields, no cloister map, and verifies as simulated nitro evidence")
    func verifiesAsSimulatedNitro() throws {
        let enclave = simulatedEnclave()
        let document = try vendor.document(
            enclave: enclave, nonce: [1, 2, 3], userData: [4], publicKey: [5, 6], at: now)
        let payload = try CBORDecoder().decode(COSESign1(encoded: document).payload)
        #expect(
            Set(payload.mapValue?.compactMap(\.key.textValue) ?? [])
                == [
                    "module_id", "digest", "timestamp", "pcrs", "certificate", "cabundle", "public_key", "user_data",
                    "nonce",
                ])
        let outcome = try verify(document)
        #expect(outcome.passed, "\(outcome.checks.filter { !$0.passed })")
        #expect(outcome.format == .nitro)
        let claims = try #require(outcome.claims)
        #expect(claims.simulated)
        #expect(claims.measurement == hexEncoded(enclave.measurement))
        #expect(claims.signer == hexEncoded(enclave.signer))
        #expect(claims.nonce == "010203")
        #expect(claims.publicKey == "0506")
        #expect(!claims.debug)
        #expect(outcome.warnings.isEmpty)
    }

    @Test("a debug enclave's PCRs are all zero, as in Nitro's debug mode")
    func debugZeroesPCRs() throws {
        let document = try vendor.document(
            enclave: simulatedEnclave(debug: true), nonce: nil, userData: nil, publicKey: nil, at: now)
        let claims = try #require(try verify(document).claims)
        #expect(claims.debug)
        #expect(claims.pcrs.values.allSatisfy { $0.allSatisfy { $0 == "0" } })
    }

    @Test("a policy refuses the simulated document unless it allows simulation")
    func policyRefusesSimulation() throws {
        let enclave = simulatedEnclave()
        let document = try vendor.document(enclave: enclave, nonce: nil, userData: nil, publicKey: nil, at: now)
        let lists = try vendor.revocationLists(SimulatedTCB(level: 1, latestLevel: 1), number: 1, at: now)
        let appraiser = Appraiser(
            evidence: EvidenceVerifier(
                trust: TrustStore([
                    .nitro: TrustStore.FormatTrust(roots: [vendor.rootCertificate], revocationLists: lists)
                ])),
            signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "test"))
        let measurements = SimulatedIdentity.measurements(enclave.measurement)
        let refused = appraiser.evaluate(
            document, policy: Policy(id: "hardware", measurements: measurements), at: now + 60)
        #expect(refused.failures.map(\.name) == ["simulated"])
        let allowed = appraiser.evaluate(
            document, policy: Policy(id: "dev", measurements: measurements, allowSimulated: true), at: now + 60)
        #expect(allowed.status == .affirming, "\(allowed.failures)")
    }

    @Test("once the platform is revoked the instance CA's CRL lists the leaf and the chain fails")
    func revokedLeafFails() throws {
        let document = try vendor.document(
            enclave: simulatedEnclave(), nonce: nil, userData: nil, publicKey: nil, at: now)
        let outcome = try verify(document, revoked: true)
        #expect(outcome.checks.filter { !$0.passed }.map(\.name) == ["certificate-chain"])
    }

    @Test("the vendor reads back what it wrote, and names the file when it cannot")
    func persistence() throws {
        let copy = try SimulatedNitroVendor(encoded: vendor.encoded())
        #expect(copy.rootCertificate == vendor.rootCertificate)
        #expect(try copy.encoded() == vendor.encoded())
        #expect(throws: SimulatedHardwareError.self) {
            try SimulatedNitroVendor(encoded: Array(vendor.encoded().dropLast(5)))
        }
    }
}

@Suite("Bound evidence: report data proves the nonce, user data and key sent beside the evidence")
struct BoundEvidenceTests {
    @Test("the envelope reads back, and bytes that are not one are evidence")
    func roundTrip() throws {
        let bound = BoundEvidence(evidence: [1, 2, 3], nonce: [9], userData: nil, publicKey: [7, 7])
        #expect(try BoundEvidence.read(bound.encoded()) == bound)
        #expect(try BoundEvidence.read([0x03, 0x00, 0x02, 0x00]) == nil)
        #expect(try BoundEvidence.read(CBORValue.map([CBORMapEntry("report", .bytes([1]))]).encoded()) == nil)
        #expect(throws: AttestationError.self) {
            try BoundEvidence.read(
                CBORValue.map([CBORMapEntry("evidence", .bytes([1])), CBORMapEntry("extra", .null)]).encoded())
        }
    }

    @Test("evidence that states its own nonce is never bound")
    func selfDescribingEvidenceRefused() throws {
        let vendor = try SimulatedNitroVendor.create(platformID: platformID, at: now)
        let document = try vendor.document(
            enclave: simulatedEnclave(), nonce: [1], userData: nil, publicKey: nil, at: now)
        let trust = TrustStore([.nitro: TrustStore.FormatTrust(roots: [vendor.rootCertificate])])
        let bound = BoundEvidence(evidence: document, nonce: [1], userData: nil, publicKey: nil)
        let outcome = EvidenceVerifier(trust: trust).verify(bound.encoded(), at: now + 60)
        #expect(outcome.checks.filter { !$0.passed }.map(\.name) == ["report-data"])
    }
}
