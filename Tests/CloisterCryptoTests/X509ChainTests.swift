import CloisterCrypto
import CloisterErrors
import CloisterTestSupport
import Foundation
import Testing

/// A negative test for every check the chain verifier makes, each rejected for its own reason.
@Suite("X.509 chain verification")
struct X509ChainTests {
    static let leafName = DistinguishedName(["O": "Cloister", "CN": "Test Attestation Key"])
    static let platformName = DistinguishedName(["O": "Cloister", "OU": "Platforms", "CN": "Test Platform"])
    static let rootName = DistinguishedName(["O": "Cloister", "CN": "Test Root CA"])

    @Test("a good chain verifies with and without CRLs and returns leaf → platform → root", arguments: ECCurve.allCases)
    func verifies(curve: ECCurve) throws {
        let pki = try TestPKI(curve: curve)
        let expected = [pki.leaf, pki.platform.certificate, pki.root.certificate]
        #expect(try pki.verify() == expected)
        #expect(try pki.verify(crls: pki.crls()) == expected)
        var required = pki.verifier
        required.requiresRevocationCheck = true
        #expect(try pki.verify(required, crls: pki.crls()) == expected)
        // The chain as one array, the root included and the order shuffled, with a second pinned anchor.
        let other = try TestPKI()
        let verifier = CertificateChainVerifier(trustAnchors: [other.root.certificate, pki.root.certificate])
        #expect(
            try verifier.verify([pki.leaf, pki.root.certificate, pki.platform.certificate], at: TestPKI.now) == expected
        )
    }

    @Test(
        "the validity window includes both ends (RFC 5280): notBefore and notAfter verify, the seconds outside do not")
    func validityEdges() throws {
        let pki = try TestPKI()
        let start = pki.leaf.notValidBefore
        let end = pki.leaf.notValidAfter
        var required = pki.verifier
        required.requiresRevocationCheck = true
        let crls = try pki.crls(thisUpdate: start - 60, nextUpdate: end + 60)
        let modes: [(CertificateChainVerifier, [CertificateRevocationList])] = [(pki.verifier, []), (required, crls)]
        for (verifier, crls) in modes {
            expectRejection(.notYetValid, of: Self.leafName) { try pki.verify(verifier, crls: crls, at: start - 1) }
            try pki.verify(verifier, crls: crls, at: start)
            try pki.verify(verifier, crls: crls, at: end)
            try pki.verify(verifier, crls: crls, at: end + 0.5)
            expectRejection(.expired, of: Self.leafName) { try pki.verify(verifier, crls: crls, at: end + 1) }
        }
    }

    @Test("an intermediate and the anchor are valid at their notAfter second and expired one second later")
    func validityEdgesAboveTheLeaf() throws {
        let end = TestPKI.now + 60
        let platform = try TestPKI(platformProfile: { $0.notValidAfter = end })
        try platform.verify(at: end)
        expectRejection(.expired, of: Self.platformName) { try platform.verify(at: end + 1) }
        let root = try TestPKI(rootProfile: { $0.notValidAfter = end })
        try root.verify(at: end)
        expectRejection(.expired, of: Self.rootName) { try root.verify(at: end + 1) }
    }

    @Test(
        "rejection times print as RFC 3339 before 1970, on a leap day, after 2049 and in 2100",
        arguments: [-1, 951_868_799, 2_600_000_000, 4_102_444_800] as [TimeInterval]
    )
    func timesInReasons(seconds: TimeInterval) throws {
        let start = Date(timeIntervalSince1970: seconds)
        let pki = try TestPKI(leafProfile: {
            $0.notValidBefore = start
            $0.notValidAfter = start + 10
        })
        expectRejection(
            .notYetValid, of: Self.leafName,
            mentioning: ["not valid before \(rfc3339(start))", "verification time \(rfc3339(start - 5))"]
        ) { try pki.verify(at: start - 5) }
    }

    @Test("an expired leaf is named with the second it expired")
    func expiredLeaf() throws {
        let pki = try TestPKI()
        let time = pki.leaf.notValidAfter + 3_600
        expectRejection(
            .expired, of: Self.leafName,
            mentioning: [
                "certificate CN=Test Attestation Key,O=Cloister expired at \(rfc3339(pki.leaf.notValidAfter))",
                "verification time \(rfc3339(time))",
            ]
        ) { try pki.verify(at: time) }
    }

    @Test("a leaf that is not yet valid is named with the second it starts")
    func notYetValidLeaf() throws {
        let pki = try TestPKI(leafProfile: { $0.notValidBefore = TestPKI.now + 600 })
        expectRejection(
            .notYetValid, of: Self.leafName,
            mentioning: ["is not valid before \(rfc3339(TestPKI.now + 600))"]
        ) { try pki.verify() }
    }

    @Test("an intermediate that expired while the leaf is still valid")
    func expiredIntermediate() throws {
        let pki = try TestPKI(platformProfile: { $0.notValidAfter = TestPKI.now + 60 })
        let time = TestPKI.now + 120
        #expect(pki.leaf.isValid(at: time))
        expectRejection(
            .expired, of: Self.platformName, mentioning: ["CN=Test Platform,OU=Platforms,O=Cloister expired at"]
        ) { try pki.verify(at: time) }
    }

    @Test("another root with the same name, no anchor, or a missing intermediate: untrusted root")
    func untrustedRoot() throws {
        let pki = try TestPKI()
        let impostor = try TestPKI()
        #expect(impostor.root.certificate.subject == pki.root.certificate.subject)
        expectRejection(
            .untrustedRoot, of: Self.platformName, mentioning: ["the pinned trust anchor of that name did not issue it"]
        ) { try pki.verify(CertificateChainVerifier(trustAnchors: [impostor.root.certificate])) }
        expectRejection(.untrustedRoot, mentioning: ["no trust anchor is pinned"]) {
            try pki.verify(CertificateChainVerifier(trustAnchors: []))
        }
        expectRejection(.untrustedRoot, of: Self.leafName, mentioning: ["neither supplied nor a pinned trust anchor"]) {
            try pki.verifier.verify(leaf: pki.leaf, at: TestPKI.now)
        }
        // A self-signed certificate offered as its own chain is not trusted for being self-signed.
        expectRejection(.untrustedRoot, mentioning: ["which is not a pinned trust anchor"]) {
            try pki.verifier.verify([impostor.root.certificate], at: TestPKI.now)
        }
    }

    @Test("an intermediate without CA:TRUE cannot issue")
    func intermediateNotCA() throws {
        let pki = try TestPKI(platformProfile: {
            $0.isCertificateAuthority = false
            $0.pathLengthConstraint = nil
        })
        expectRejection(.notCertificateAuthority, of: Self.platformName, mentioning: ["lack CA:TRUE"]) {
            try pki.verify()
        }
    }

    @Test("an intermediate without keyCertSign cannot issue")
    func intermediateWithoutCertSign() throws {
        let pki = try TestPKI(platformProfile: { $0.keyUsage = [.digitalSignature, .cRLSign] })
        expectRejection(.keyUsage, of: Self.platformName, mentioning: ["lacks keyCertSign"]) { try pki.verify() }
    }

    @Test("a root with path length 0 forbids the platform CA below it")
    func pathLength() throws {
        let pki = try TestPKI(rootProfile: { $0.pathLengthConstraint = 0 })
        expectRejection(
            .pathLength, of: Self.rootName, mentioning: ["allows 0 CA certificate(s) below it, but 1 follow"]
        ) { try pki.verify() }
    }

    @Test("a leaf lacking the required key usage is refused; one that has it passes")
    func leafKeyUsage() throws {
        let pki = try TestPKI(leafProfile: { $0.keyUsage = [.keyAgreement] })
        expectRejection(
            .keyUsage, of: Self.leafName, mentioning: ["allows keyAgreement, not the required digitalSignature"]
        ) {
            try pki.verify()
        }
        var agreeing = pki.verifier
        agreeing.requiredLeafKeyUsage = [.keyAgreement]
        try pki.verify(agreeing)
    }

    @Test("a flipped byte in the leaf's signature breaks it")
    func tamperedSignature() throws {
        let pki = try TestPKI()
        var der = pki.leaf.derRepresentation
        der[der.count - 5] ^= 0x01
        let tampered = try X509Certificate(derRepresentation: der)
        expectRejection(.signature, of: Self.leafName, mentioning: ["does not verify with the key of CN=Test Platform"])
        {
            try pki.verifier.verify(leaf: tampered, intermediates: [pki.platform.certificate], at: TestPKI.now)
        }
    }

    @Test("a revoked leaf is named with its serial and the CRL's issuer")
    func revokedLeaf() throws {
        let pki = try TestPKI()
        expectRejection(
            .revoked, of: Self.leafName,
            mentioning: [
                "serial \(pki.leaf.serialNumberHex)", "revoked at \(rfc3339(TestPKI.now - 30))",
                "by the CRL number 02 of CN=Test Platform",
            ]
        ) { try pki.verify(crls: pki.crls(revokingLeaf: true)) }
    }

    @Test("a revoked intermediate is named with its serial and the root as the CRL's issuer")
    func revokedIntermediate() throws {
        let pki = try TestPKI()
        expectRejection(
            .revoked, of: Self.platformName,
            mentioning: [
                "serial \(pki.platform.certificate.serialNumberHex)", "by the CRL number 01 of CN=Test Root CA",
            ]
        ) { try pki.verify(crls: pki.crls(revokingPlatform: true)) }
    }

    @Test("a CRL past its nextUpdate, or before its thisUpdate, at the verification time")
    func crlOutsideItsWindow() throws {
        let pki = try TestPKI()
        expectRejection(.crlExpired, mentioning: ["expired at \(rfc3339(TestPKI.now - 10))"]) {
            try pki.verify(crls: pki.crls(thisUpdate: TestPKI.now - 100, nextUpdate: TestPKI.now - 10))
        }
        expectRejection(.crlNotYetValid, mentioning: ["is not valid before \(rfc3339(TestPKI.now + 10))"]) {
            try pki.verify(crls: pki.crls(thisUpdate: TestPKI.now + 10))
        }
        // A stale CRL beside a current one from the same issuer does not matter.
        let stale = try pki.crls(thisUpdate: TestPKI.now - 100, nextUpdate: TestPKI.now - 10)
        try pki.verify(crls: stale + pki.crls())
    }

    @Test("CRLs required but missing for a level")
    func crlMissing() throws {
        let pki = try TestPKI()
        var required = pki.verifier
        required.requiresRevocationCheck = true
        expectRejection(.crlMissing, of: Self.leafName, mentioning: ["no CRL from CN=Test Platform"]) {
            try pki.verify(required)
        }
        expectRejection(.crlMissing, of: Self.leafName, mentioning: ["no CRL from CN=Test Platform"]) {
            try pki.verify(required, crls: [pki.crls()[0]])
        }
        expectRejection(.crlMissing, of: Self.platformName, mentioning: ["no CRL from CN=Test Root CA"]) {
            try pki.verify(required, crls: [pki.crls()[1]])
        }
        // Not required: the level the supplied CRL covers is checked, the other is not needed.
        try pki.verify(crls: [pki.crls()[0]])
        expectRejection(.revoked, of: Self.leafName) { try pki.verify(crls: [pki.crls(revokingLeaf: true)[1]]) }
    }

    @Test("a CRL with the platform's name signed by another key")
    func crlWrongKey() throws {
        let pki = try TestPKI()
        let impostorKey = try ECPrivateKey(generating: .p256)
        let impostorCertificate = try pki.root.issue(
            CertificateProfile(
                subject: pki.platform.certificate.subject, notValidBefore: TestPKI.now - 60,
                notValidAfter: TestPKI.now + 60, isCertificateAuthority: true, keyUsage: [.keyCertSign, .cRLSign]),
            for: impostorKey.publicKey)
        let forged = try CertificateAuthority(certificate: impostorCertificate, privateKey: impostorKey)
            .issueCRL(number: 9, thisUpdate: TestPKI.now - 60, nextUpdate: TestPKI.now + 60, revoked: [])
        expectRejection(.crlSignature, of: Self.leafName, mentioning: ["is not signed by its key"]) {
            try pki.verify(crls: [pki.crls()[0], forged])
        }
    }

    @Test("a critical extension the verifier does not know is refused by OpenSSL's pass")
    func unknownCriticalExtension() throws {
        let pki = try TestPKI(leafProfile: {
            $0.customExtensions = [
                CertificateExtension(oid: "1.3.6.1.4.1.57264.77.3", isCritical: true, value: [5, 0])
            ]
        })
        expectRejection(.unhandledCriticalExtension, of: Self.leafName, mentioning: ["OpenSSL refused"]) {
            try pki.verify()
        }
    }

    @Test("a time no ASN.1 time can express is a parameter error, not a rejection")
    func unrepresentableTime() throws {
        let pki = try TestPKI()
        expectCryptoError(.invalidParameter) { try pki.verify(at: Date(timeIntervalSince1970: .nan)) }
        expectCryptoError(.invalidParameter) { try pki.verify(at: Date(timeIntervalSince1970: 1e15)) }
        expectRejection(.malformed) { try pki.verifier.verify([], at: TestPKI.now) }
    }

    @Test("rejections carry the certificate-rejected code and print check and reason")
    func errorShape() throws {
        let pki = try TestPKI()
        do {
            try pki.verify(at: pki.leaf.notValidAfter + 1)
            Issue.record("an expired chain verified")
        } catch let error as CertificateChainError {
            #expect(error.code.rawValue == "certificate-rejected")
            #expect(error.description.hasPrefix("certificate-rejected (expired): certificate CN=Test Attestation Key"))
        }
    }
}
