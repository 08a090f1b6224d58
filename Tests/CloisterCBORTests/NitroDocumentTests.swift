import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// Real AWS Nitro Enclaves attestation documents (COSE_Sign1, ES384) from Tests/Vectors/testvectors/nitro.
@Suite
struct NitroDocumentTests {
    static let documents = [
        "evervault-prod-2022-10-13.cbor",
        "evervault-debug-2022-10-12.cbor",
        "evervault-debug-2023-09-18.cbor.b64",
    ]

    static func wire(_ name: String) throws -> [UInt8] {
        let url = TestEnvironment.vector("testvectors/nitro/\(name)")
        let data = try Data(contentsOf: url)
        guard name.hasSuffix(".b64") else { return Array(data) }
        return Array(try #require(Data(base64Encoded: data, options: .ignoreUnknownCharacters)))
    }

    /// The attestation key of a document: the public key of its `certificate`.
    static func attestationKey(_ document: COSESign1) throws -> ECPublicKey {
        try leafCertificate(document).publicKey()
    }

    static func leafCertificate(_ document: COSESign1) throws -> X509Certificate {
        let payload = try CBORDecoder().decode(document.payload)
        return try X509Certificate(derRepresentation: try #require(payload["certificate"]?.bytesValue))
    }

    /// The `cabundle` certificates (root first, as Nitro sends them).
    static func bundle(_ document: COSESign1) throws -> [X509Certificate] {
        let payload = try CBORDecoder().decode(document.payload)
        let entries = try #require(payload["cabundle"]?.arrayValue)
        return try entries.map { entry in
            guard let der = entry.bytesValue else {
                throw CryptoError(.malformedInput, "cabundle entry is not a byte string")
            }
            return try X509Certificate(derRepresentation: der)
        }
    }

    static func awsRoot() throws -> X509Certificate {
        let url = TestEnvironment.vector("testvectors/nitro/aws-nitro-root-g1.pem")
        return try X509Certificate(pemRepresentation: String(contentsOf: url, encoding: .utf8))
    }

    /// Verification times pinned by Tests/Vectors/README.md.
    static let verifyAt: [String: String] = [
        "evervault-prod-2022-10-13.cbor": "2022-10-13T10:00:00Z",
        "evervault-debug-2022-10-12.cbor": "2022-10-12T15:00:00Z",
        "evervault-debug-2023-09-18.cbor.b64": "2023-09-18T15:16:05Z",
    ]

    @Test("the pinned AWS Nitro root G1 has the published fingerprint and is a self-signed P-384 CA")
    func awsRootFingerprint() throws {
        let root = try Self.awsRoot()
        #expect(hexString(root.sha256Fingerprint) == "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b")
        #expect(root.isSelfSigned && root.isCertificateAuthority)
        #expect(try root.publicKey().curve == .p384)
    }

    @Test(
        "the certificate chain verifies to the AWS root at the pinned time, not one second after, not under another root",
        arguments: documents)
    func chainVerifies(_ name: String) throws {
        let document = try COSESign1(encoded: Self.wire(name))
        let leaf = try Self.leafCertificate(document)
        let bundle = try Self.bundle(document)
        let root = try Self.awsRoot()
        #expect(bundle.first == root)
        let pinned = try #require(Self.verifyAt[name])
        let time = try #require(ISO8601DateFormatter().date(from: pinned))
        let verifier = CertificateChainVerifier(trustAnchors: [root])
        let path = try verifier.verify(leaf: leaf, intermediates: Array(bundle.dropFirst()), at: time)
        #expect(path.first == leaf && path.last == root)
        let windowEnd = path.map(\.notValidAfter).min()!
        #expect(throws: CertificateChainError.self) {
            try verifier.verify(leaf: leaf, intermediates: Array(bundle.dropFirst()), at: windowEnd + 1)
        }
        let otherRoot = try CertificateAuthority.selfSigned(
            CertificateProfile(
                subject: root.subject, notValidBefore: root.notValidBefore, notValidAfter: root.notValidAfter,
                isCertificateAuthority: true, keyUsage: [.keyCertSign, .cRLSign]),
            privateKey: ECPrivateKey(generating: .p384)
        ).certificate
        do {
            try CertificateChainVerifier(trustAnchors: [otherRoot]).verify(
                leaf: leaf, intermediates: Array(bundle.dropFirst()), at: time)
            Issue.record("\(name) verified under a root that is not AWS's")
        } catch let error as CertificateChainError {
            #expect(error.check == .untrustedRoot || error.check == .signature, "\(error)")
        }
    }

    @Test(arguments: documents)
    func parsesAndVerifies(_ name: String) throws {
        let document = try COSESign1(encoded: Self.wire(name))
        #expect(document.algorithm == .es384)
        #expect(document.signature.count == 96)
        let payload = try CBORDecoder().decode(document.payload)
        #expect(payload["digest"] == "SHA384")
        #expect(payload["module_id"]?.textValue?.hasPrefix("i-") == true)
        #expect(payload["timestamp"]?.uint64Value != nil)
        #expect(payload["pcrs"]?.mapValue?.count == 16)
        #expect((payload["cabundle"]?.arrayValue?.count ?? 0) >= 1)
        let key = try Self.attestationKey(document)
        #expect(key.curve == .p384)
        try document.verifySignature(with: key)
        #expect(throws: COSEError.self) { try document.verifySignature(with: key, externalAAD: [0]) }
    }

    /// Flips every byte of the signed inputs (protected header, payload) and of the signature, one at a time, in
    /// the wire encoding: each change must make the document fail to parse or fail to verify. About 4,700
    /// P-384 verifications per document (a few seconds each in debug).
    @Test(arguments: documents)
    func everyByteOfTheSignedInputsAndSignatureMatters(_ name: String) throws {
        let wire = try Self.wire(name)
        let document = try COSESign1(encoded: wire)
        let key = try Self.attestationKey(document)
        let regions = try Self.signedRegions(of: document, in: wire)
        var positions = 0
        for region in regions {
            for position in region {
                var tampered = wire
                tampered[position] ^= 0x01
                let accepted = (try? COSESign1(encoded: tampered).verifySignature(with: key)) != nil
                #expect(!accepted, "\(name): flipping byte \(position) left the document valid")
                positions += 1
            }
        }
        #expect(positions == document.protectedHeaderBytes.count + document.payload.count + document.signature.count)
    }

    /// The wire ranges holding the protected header contents, payload contents and signature, checked against
    /// the parsed fields so the flips land where intended.
    static func signedRegions(of document: COSESign1, in wire: [UInt8]) throws -> [Range<Int>] {
        let tagLength = wire.first == 0xd2 ? 1 : 0
        let protectedStart = tagLength + 1 + 1  // array head, then a short byte-string head
        let protectedRange = protectedStart..<protectedStart + document.protectedHeaderBytes.count
        let signatureRange = wire.count - document.signature.count..<wire.count
        let payloadEnd = signatureRange.lowerBound - 2  // the signature's two-byte head 0x58 0x60
        let payloadRange = payloadEnd - document.payload.count..<payloadEnd
        try #require(Array(wire[protectedRange]) == document.protectedHeaderBytes)
        try #require(Array(wire[payloadRange]) == document.payload)
        try #require(Array(wire[signatureRange]) == document.signature)
        return [protectedRange, payloadRange, signatureRange]
    }
}
