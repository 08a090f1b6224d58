import Attestation
import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing
import Verifier

@Suite("Appraisal of real AWS Nitro documents")
struct NitroAppraisalTests {
    private func appraise(_ vector: NitroVector, _ bytes: [UInt8]? = nil, at time: Date? = nil, allowDebug: Bool = true)
        throws -> AttestationResult
    {
        try appraiser(TrustStore(nitroRoots: [NitroVector.awsRoot()])).appraise(
            bytes ?? vector.bytes(), policy: vector.policy(allowDebug: allowDebug), at: time ?? vector.time)
    }

    @Test("affirmed at its pinned time under a policy holding its PCR0", arguments: NitroVector.all)
    func affirmed(vector: NitroVector) throws {
        let result = try appraise(vector)
        #expect(result.status == .affirming, "\(result.failures)")
        #expect(result.format == .nitro)
        #expect(result.claims?.debug == vector.isDebug)
        #expect(result.claims?.simulated == false)
        #expect(result.warnings.isEmpty)
    }

    @Test(
        "affirmed at the last second of its certificate window, contraindicated one second later",
        arguments: NitroVector.all)
    func expired(vector: NitroVector) throws {
        let signed = try SignedAttestationDocument(encoded: vector.bytes())
        let windowEnd = ([signed.certificate] + signed.caBundle).map(\.notValidAfter).min()!
        let lastSecond = try appraise(vector, at: windowEnd)
        #expect(lastSecond.status == .affirming, "\(lastSecond.failures)")
        let result = try appraise(vector, at: windowEnd + 1)
        #expect(result.status == .contraindicated)
        #expect(result.failures.map(\.name) == ["certificate-chain"])
        #expect(result.trustworthiness.instanceIdentity == 99)
    }

    @Test("under the default maximum age of five minutes, a document appraised an hour after it was made is stale")
    func defaultMaximumAge() throws {
        let vector = NitroVector.all[0]
        var policy = try vector.policy(allowDebug: false)
        policy.maximumAgeSeconds = Policy.defaultMaximumAgeSeconds
        let result = try appraiser(TrustStore(nitroRoots: [NitroVector.awsRoot()])).appraise(
            vector.bytes(), policy: policy, at: vector.time)
        #expect(result.failures.map(\.name) == ["age"])
        let made = try SignedAttestationDocument(encoded: vector.bytes()).timestamp
        let fresh = try appraiser(TrustStore(nitroRoots: [NitroVector.awsRoot()])).appraise(
            vector.bytes(), policy: policy, at: made + 60)
        #expect(fresh.status == .affirming, "\(fresh.failures)")
    }

    @Test(
        "contraindicated when the AWS root is replaced by another, with a fingerprint warning",
        arguments: NitroVector.all)
    func otherRoot(vector: NitroVector) throws {
        let impostor = try CertificateAuthority.selfSigned(
            CertificateProfile(
                subject: DistinguishedName(["CN": "aws.nitro-enclaves"]), notValidBefore: vector.time - 86400,
                notValidAfter: vector.time + 86400, isCertificateAuthority: true, keyUsage: [.keyCertSign]),
            privateKey: ECPrivateKey(generating: .p384))
        let result = try appraiser(TrustStore(nitroRoots: [impostor.certificate])).appraise(
            vector.bytes(), policy: vector.policy(allowDebug: true), at: vector.time)
        #expect(result.status == .contraindicated)
        #expect(result.failures.map(\.name) == ["certificate-chain"])
        #expect(result.warnings.first?.contains(TrustStore.awsNitroRootG1Fingerprint) == true)
    }

    @Test(
        "contraindicated when any byte of the signature, or a byte of the payload, changes", arguments: NitroVector.all)
    func alteredBytes(vector: NitroVector) throws {
        let bytes = try vector.bytes()
        let message = try COSESign1(encoded: bytes)
        let signatureStart = bytes.count - message.signature.count
        let payloadStart = signatureStart - 2 - message.payload.count  // byte string head of 2 more bytes
        // Every signature byte; every 11th payload byte (NitroDocumentTests flips every payload byte at the COSE level).
        let offsets =
            Array(signatureStart..<bytes.count) + Array(stride(from: payloadStart, to: signatureStart - 2, by: 11))
        for offset in offsets {
            var altered = bytes
            altered[offset] ^= 0x40
            let result = try appraise(vector, altered)
            #expect(result.status == .contraindicated, "byte \(offset)")
        }
    }

    @Test(
        "tamper matrix: every byte of the document, flipped one bit at a time, is refused with the failing checks named",
        arguments: NitroVector.all)
    func tamperMatrix(vector: NitroVector) throws {
        let bytes = try vector.bytes()
        let verifier = EvidenceVerifier(trust: TrustStore(nitroRoots: [try NitroVector.awsRoot()]))
        try #require(verifier.verify(bytes, format: .nitro, at: vector.time).passed)
        expectTamperMatrixRefused(vector.name, bytes) { verifier.verify($0, format: .nitro, at: vector.time) }
    }

    @Test(
        "the debug documents are contraindicated under a policy that forbids debug",
        arguments: NitroVector.all.filter(\.isDebug))
    func debugForbidden(vector: NitroVector) throws {
        let result = try appraise(vector, allowDebug: false)
        #expect(result.status == .contraindicated)
        #expect(result.failures.map(\.name) == ["debug"])
        #expect(result.trustworthiness.configuration == 96)
    }

    @Test("without an AWS root the evidence is contraindicated with a message saying where AWS publishes it")
    func missingRoot() throws {
        let vector = NitroVector.all[0]
        let result = try appraiser(TrustStore()).appraise(
            vector.bytes(), policy: vector.policy(allowDebug: false), at: vector.time)
        #expect(result.status == .contraindicated)
        #expect(
            result.failures.first { $0.name == "trust-anchor" }?.detail.contains(TrustStore.awsNitroRootURL) == true)
    }
}
