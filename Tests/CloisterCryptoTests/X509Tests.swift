import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// A three-level PKI shaped like Cloister's simulated platform: root CA → platform CA → attestation key.
struct TestPKI {
    static let platformIDOID = "1.3.6.1.4.1.57264.77.1"
    static let now = Date(timeIntervalSince1970: 1_790_000_000)

    let root: CertificateAuthority
    let platform: CertificateAuthority
    let leafKey: ECPrivateKey
    let leaf: X509Certificate

    init(
        curve: ECCurve = .p256,
        rootProfile: (inout CertificateProfile) -> Void = { _ in },
        platformProfile: (inout CertificateProfile) -> Void = { _ in },
        leafProfile: (inout CertificateProfile) -> Void = { _ in }
    ) throws {
        var rootTemplate = CertificateProfile(
            subject: DistinguishedName(["O": "Cloister", "CN": "Test Root CA"]),
            notValidBefore: Self.now - 86_400 * 365, notValidAfter: Self.now + 86_400 * 365 * 10,
            isCertificateAuthority: true, pathLengthConstraint: 1, keyUsage: [.keyCertSign, .cRLSign])
        rootProfile(&rootTemplate)
        root = try CertificateAuthority.selfSigned(rootTemplate, privateKey: ECPrivateKey(generating: curve))
        var platformTemplate = CertificateProfile(
            subject: DistinguishedName(["O": "Cloister", "CN": "Test Platform"]),
            notValidBefore: Self.now - 86_400, notValidAfter: Self.now + 86_400 * 365,
            isCertificateAuthority: true, pathLengthConstraint: 0, keyUsage: [.keyCertSign, .cRLSign],
            customExtensions: [
                CertificateExtension(oid: Self.platformIDOID, isCritical: false, value: [0x04, 0x02, 0xbe, 0xef])
            ])
        platformProfile(&platformTemplate)
        let platformKey = try ECPrivateKey(generating: curve)
        platform = try CertificateAuthority(
            certificate: root.issue(platformTemplate, for: platformKey.publicKey), privateKey: platformKey)
        var leafTemplate = CertificateProfile(
            subject: DistinguishedName(["O": "Cloister", "CN": "Test Attestation Key"]),
            notValidBefore: Self.now - 3_600, notValidAfter: Self.now + 86_400,
            isCertificateAuthority: false, keyUsage: [.digitalSignature])
        leafProfile(&leafTemplate)
        leafKey = try ECPrivateKey(generating: curve)
        leaf = try platform.issue(leafTemplate, for: leafKey.publicKey)
    }

    func crls(revokingLeaf: Bool = false, revokingPlatform: Bool = false, nextUpdate: Date? = nil) throws
        -> [CertificateRevocationList]
    {
        let next = nextUpdate ?? Self.now + 86_400 * 30
        return [
            try root.issueCRL(
                number: 1, thisUpdate: Self.now - 60, nextUpdate: next,
                revoked: revokingPlatform
                    ? [
                        RevokedCertificate(
                            serialNumber: platform.certificate.serialNumber, revocationDate: Self.now - 30)
                    ] : []),
            try platform.issueCRL(
                number: 1, thisUpdate: Self.now - 60, nextUpdate: next,
                revoked: revokingLeaf
                    ? [RevokedCertificate(serialNumber: leaf.serialNumber, revocationDate: Self.now - 30)] : []),
        ]
    }

    /// Strict RFC 5280 profile on: Cloister's own PKI must meet it.
    var verifier: CertificateChainVerifier {
        CertificateChainVerifier(trustAnchors: [root.certificate], enforcesStrictProfile: true)
    }

    func verify(
        _ verifier: CertificateChainVerifier? = nil, crls: [CertificateRevocationList] = [], at time: Date = now
    ) throws {
        try (verifier ?? self.verifier).verify(leaf: leaf, intermediates: [platform.certificate], crls: crls, at: time)
    }
}

/// Expects `body` to throw a chain error for `check`.
func expectRejection(
    _ check: CertificateChainError.Check, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record(
            "expected the chain to be rejected for \(check.rawValue), but it verified", sourceLocation: sourceLocation)
    } catch let error as CertificateChainError {
        #expect(error.check == check, "\(error.reason)", sourceLocation: sourceLocation)
    } catch {
        Issue.record(
            "expected a CertificateChainError(\(check.rawValue)), got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("X.509 issuance and parsing")
struct X509IssuanceTests {
    @Test("issued certificates parse back with every field", arguments: ECCurve.allCases)
    func fields(curve: ECCurve) throws {
        let pki = try TestPKI(curve: curve)
        let root = pki.root.certificate
        #expect(root.isSelfSigned && root.isCertificateAuthority)
        #expect(root.pathLengthConstraint == 1)
        #expect(root.keyUsage == [.keyCertSign, .cRLSign])
        #expect(root.subject.commonName == "Test Root CA" && root.subject["O"] == "Cloister")
        #expect(root.subject.description == "CN=Test Root CA,O=Cloister")
        #expect(root.signatureAlgorithm == (curve == .p256 ? "ecdsa-with-SHA256" : "ecdsa-with-SHA384"))
        let platform = pki.platform.certificate
        #expect(platform.issuer == root.subject && !platform.isSelfSigned)
        #expect(platform.pathLengthConstraint == 0)
        #expect(platform.authorityKeyIdentifier == root.subjectKeyIdentifier && root.subjectKeyIdentifier?.count == 20)
        let custom = try #require(platform.extension(oid: TestPKI.platformIDOID))
        #expect(custom.value == [0x04, 0x02, 0xbe, 0xef] && !custom.isCritical)
        #expect(platform.extension(oid: "2.5.29.19")?.isCritical == true)
        let leaf = pki.leaf
        #expect(
            !leaf.isCertificateAuthority && leaf.keyUsage == [.digitalSignature] && leaf.pathLengthConstraint == nil)
        #expect(try leaf.publicKey() == pki.leafKey.publicKey)
        #expect(leaf.notValidBefore == TestPKI.now - 3_600 && leaf.notValidAfter == TestPKI.now + 86_400)
        #expect(leaf.serialNumber.count == 16 && leaf.serialNumber != platform.serialNumber)
        #expect(leaf.isValid(at: TestPKI.now) && !leaf.isValid(at: TestPKI.now + 86_400))
        #expect(leaf.sha256Fingerprint == DigestAlgorithm.sha256.hash(leaf.derRepresentation))
        #expect(try X509Certificate(pemRepresentation: leaf.pemRepresentation) == leaf)
        #expect(
            try X509Certificate.certificates(fromPEM: leaf.pemRepresentation + platform.pemRepresentation) == [
                leaf, platform,
            ])
        try pki.verify()
    }

    @Test("a CA refuses a key that is not its own, and roots must be CAs")
    func authorityChecks() throws {
        let pki = try TestPKI()
        #expect(throws: CryptoError.self) {
            try CertificateAuthority(certificate: pki.root.certificate, privateKey: ECPrivateKey(generating: .p256))
        }
        var profile = CertificateProfile(
            subject: DistinguishedName(["CN": "x"]), notValidBefore: TestPKI.now, notValidAfter: TestPKI.now + 1,
            isCertificateAuthority: false, keyUsage: [.digitalSignature])
        #expect(throws: CryptoError.self) {
            try CertificateAuthority.selfSigned(profile, privateKey: ECPrivateKey(generating: .p256))
        }
        profile.isCertificateAuthority = true
        profile.notValidAfter = TestPKI.now - 1
        #expect(throws: CryptoError.self) {
            try CertificateAuthority.selfSigned(profile, privateKey: ECPrivateKey(generating: .p256))
        }
    }

    @Test("CRLs parse back with issuer, times, number and revoked serials")
    func crlFields() throws {
        let pki = try TestPKI()
        let crl = try pki.crls(revokingLeaf: true)[1]
        #expect(crl.issuer == pki.platform.certificate.subject)
        #expect(crl.thisUpdate == TestPKI.now - 60 && crl.nextUpdate == TestPKI.now + 86_400 * 30)
        #expect(
            crl.revoked == [RevokedCertificate(serialNumber: pki.leaf.serialNumber, revocationDate: TestPKI.now - 30)])
        #expect(crl.lists(pki.leaf) && !crl.lists(pki.platform.certificate))
        let reparsed = try CertificateRevocationList(pemRepresentation: crl.pemRepresentation)
        #expect(reparsed.derRepresentation == crl.derRepresentation)
        #expect(try CertificateRevocationList(derRepresentation: crl.derRepresentation).revoked == crl.revoked)
    }

    @Test("malformed DER and PEM are refused at every truncation, never crash")
    func malformed() throws {
        let der = try TestPKI().leaf.derRepresentation
        for length in 0..<der.count {
            #expect(throws: CryptoError.self) { try X509Certificate(derRepresentation: Array(der.prefix(length))) }
        }
        #expect(throws: CryptoError.self) { try X509Certificate(derRepresentation: der + [0]) }
        #expect(throws: CryptoError.self) {
            try X509Certificate(pemRepresentation: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        }
        #expect(throws: CryptoError.self) { try X509Certificate(pemRepresentation: "no certificate here") }
        #expect(throws: CryptoError.self) { try CertificateRevocationList(derRepresentation: [0x30, 0x00]) }
    }
}

@Suite("Certificate chain verification")
struct CertificateChainTests {
    @Test("a good chain verifies, with and without CRLs, and returns leaf → root")
    func verifies() throws {
        let pki = try TestPKI()
        let path = try pki.verifier.verify(
            leaf: pki.leaf, intermediates: [pki.platform.certificate], crls: pki.crls(), at: TestPKI.now)
        #expect(path == [pki.leaf, pki.platform.certificate, pki.root.certificate])
    }

    @Test("expired and not-yet-valid leaf; expired intermediate")
    func validity() throws {
        let pki = try TestPKI()
        expectRejection(.expired) { try pki.verify(at: pki.leaf.notValidAfter + 1) }
        expectRejection(.notYetValid) { try pki.verify(at: pki.leaf.notValidBefore - 1) }
        // OpenSSL counts the notAfter second itself as expired; the last valid second is the one before.
        expectRejection(.expired) { try pki.verify(at: pki.leaf.notValidAfter) }
        #expect(throws: Never.self) { try pki.verify(at: pki.leaf.notValidAfter - 1) }
        #expect(throws: Never.self) { try pki.verify(at: pki.leaf.notValidBefore) }
        let shortPlatform = try TestPKI(platformProfile: { $0.notValidAfter = TestPKI.now + 60 })
        expectRejection(.expired) { try shortPlatform.verify(at: TestPKI.now + 120) }
    }

    @Test("another root with the same name is not the pinned anchor")
    func wrongAnchor() throws {
        let pki = try TestPKI()
        let impostor = try TestPKI()
        #expect(impostor.root.certificate.subject == pki.root.certificate.subject)
        expectRejection(.untrustedRoot) {
            try pki.verify(CertificateChainVerifier(trustAnchors: [impostor.root.certificate]))
        }
        expectRejection(.untrustedRoot) { try pki.verify(CertificateChainVerifier(trustAnchors: [])) }
        expectRejection(.untrustedRoot) {
            try pki.verifier.verify(leaf: pki.leaf, intermediates: [], at: TestPKI.now)
        }
    }

    @Test("an intermediate without CA:TRUE or without keyCertSign cannot issue")
    func caChecks() throws {
        let notCA = try TestPKI(platformProfile: {
            $0.isCertificateAuthority = false; $0.keyUsage = [.keyCertSign]
        })
        expectRejection(.notCertificateAuthority) { try notCA.verify() }
        let noCertSign = try TestPKI(platformProfile: { $0.keyUsage = [.digitalSignature, .cRLSign] })
        expectRejection(.keyUsage) { try noCertSign.verify() }
    }

    @Test("the root's path length of 0 forbids an intermediate CA")
    func pathLength() throws {
        let pki = try TestPKI(rootProfile: { $0.pathLengthConstraint = 0 })
        expectRejection(.pathLength) { try pki.verify() }
    }

    @Test("a leaf without the required key usage is refused")
    func leafKeyUsage() throws {
        let pki = try TestPKI(leafProfile: { $0.keyUsage = [.keyAgreement] })
        expectRejection(.keyUsage) { try pki.verify() }
        var lenient = pki.verifier
        lenient.requiredLeafKeyUsage = [.keyAgreement]
        try pki.verify(lenient)
    }

    @Test("a flipped byte in the leaf's signature breaks the chain")
    func signature() throws {
        let pki = try TestPKI()
        var der = pki.leaf.derRepresentation
        der[der.count - 5] ^= 0x01
        let tampered = try X509Certificate(derRepresentation: der)
        expectRejection(.signature) {
            try pki.verifier.verify(leaf: tampered, intermediates: [pki.platform.certificate], at: TestPKI.now)
        }
    }

    @Test("revoked leaf, revoked intermediate, expired CRL, missing CRL, CRL signed by the wrong key")
    func revocation() throws {
        let pki = try TestPKI()
        expectRejection(.revoked) { try pki.verify(crls: pki.crls(revokingLeaf: true)) }
        expectRejection(.revoked) { try pki.verify(crls: pki.crls(revokingPlatform: true)) }
        expectRejection(.crlExpired) { try pki.verify(crls: pki.crls(nextUpdate: TestPKI.now - 10)) }
        var strict = pki.verifier
        strict.requiresRevocationCheck = true
        expectRejection(.crlMissing) { try pki.verify(strict) }
        expectRejection(.crlMissing) { try pki.verify(strict, crls: [pki.crls()[0]]) }
        // A CRL with the platform's name but signed by an impostor key.
        let impostorKey = try ECPrivateKey(generating: .p256)
        let impostorCert = try pki.root.issue(
            CertificateProfile(
                subject: pki.platform.certificate.subject, notValidBefore: TestPKI.now - 60,
                notValidAfter: TestPKI.now + 60,
                isCertificateAuthority: true, pathLengthConstraint: 0, keyUsage: [.keyCertSign, .cRLSign]),
            for: impostorKey.publicKey)
        let forged = try CertificateAuthority(certificate: impostorCert, privateKey: impostorKey)
            .issueCRL(number: 9, thisUpdate: TestPKI.now - 60, nextUpdate: TestPKI.now + 60, revoked: [])
        expectRejection(.crlSignature) { try pki.verify(crls: [pki.crls()[0], forged]) }
    }
}
