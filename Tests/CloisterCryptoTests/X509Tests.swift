import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// A three-level PKI shaped like Cloister's simulated platform: root CA → platform CA (platform id and TCB level in
/// custom extensions) → attestation key.
struct TestPKI {
    static let platformIDOID = "1.3.6.1.4.1.57264.77.1"
    static let tcbLevelOID = "1.3.6.1.4.1.57264.77.2"
    /// OCTET STRING 0xbeef.
    static let platformIDValue: [UInt8] = [0x04, 0x02, 0xbe, 0xef]
    /// INTEGER 7.
    static let tcbLevelValue: [UInt8] = [0x02, 0x01, 0x07]
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
            subject: DistinguishedName(["O": "Cloister", "OU": "Platforms", "CN": "Test Platform"]),
            notValidBefore: Self.now - 86_400, notValidAfter: Self.now + 86_400 * 365,
            isCertificateAuthority: true, pathLengthConstraint: 0, keyUsage: [.keyCertSign, .cRLSign],
            customExtensions: [
                CertificateExtension(oid: Self.platformIDOID, value: Self.platformIDValue),
                CertificateExtension(oid: Self.tcbLevelOID, value: Self.tcbLevelValue),
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

    /// The root's CRL (covering the platform certificate) and the platform's CRL (covering the leaf).
    func crls(
        revokingLeaf: Bool = false,
        revokingPlatform: Bool = false,
        thisUpdate: Date = TestPKI.now - 60,
        nextUpdate: Date = TestPKI.now + 86_400 * 30
    ) throws -> [CertificateRevocationList] {
        let revokedPlatform = RevokedCertificate(
            serialNumber: platform.certificate.serialNumber, revocationDate: Self.now - 30)
        let revokedLeaf = RevokedCertificate(serialNumber: leaf.serialNumber, revocationDate: Self.now - 30)
        return [
            try root.issueCRL(
                number: 1, thisUpdate: thisUpdate, nextUpdate: nextUpdate,
                revoked: revokingPlatform ? [revokedPlatform] : []),
            try platform.issueCRL(
                number: 2, thisUpdate: thisUpdate, nextUpdate: nextUpdate, revoked: revokingLeaf ? [revokedLeaf] : []),
        ]
    }

    /// Strict RFC 5280 profile on: Cloister's own PKI must meet it.
    var verifier: CertificateChainVerifier {
        CertificateChainVerifier(trustAnchors: [root.certificate], enforcesStrictProfile: true)
    }

    @discardableResult
    func verify(
        _ verifier: CertificateChainVerifier? = nil,
        crls: [CertificateRevocationList] = [],
        at time: Date = TestPKI.now
    ) throws -> [X509Certificate] {
        try (verifier ?? self.verifier).verify(leaf: leaf, intermediates: [platform.certificate], crls: crls, at: time)
    }
}

/// RFC 3339 as an independent formatter prints it, to check the times in rejection reasons.
func rfc3339(_ date: Date) -> String {
    ISO8601DateFormatter().string(from: date)
}

/// Expects `body` to be rejected for `check` on `certificate`, with a reason containing every one of `phrases`.
func expectRejection(
    _ check: CertificateChainError.Check,
    of certificate: DistinguishedName? = nil,
    mentioning phrases: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record(
            "expected a rejection for \(check.rawValue), but the chain verified", sourceLocation: sourceLocation)
    } catch let error as CertificateChainError {
        #expect(error.check == check, "\(error)", sourceLocation: sourceLocation)
        #expect(error.code == .certificateRejected, sourceLocation: sourceLocation)
        if let certificate {
            #expect(error.certificate == certificate, "\(error)", sourceLocation: sourceLocation)
        }
        for phrase in phrases {
            #expect(error.reason.contains(phrase), "\(error.reason) lacks \(phrase)", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record(
            "expected a CertificateChainError(\(check.rawValue)), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Expects `body` to throw a `CryptoError` with `code`.
func expectCryptoError(
    _ code: CryptoError.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) {
    do {
        try body()
        Issue.record("expected CryptoError(\(code)), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as CryptoError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected CryptoError(\(code)), got \(error)", sourceLocation: sourceLocation)
    }
}

@Suite("X.509 issuance and parsing")
struct X509IssuanceTests {
    @Test("issued certificates parse back with every field", arguments: ECCurve.allCases)
    func fields(curve: ECCurve) throws {
        let pki = try TestPKI(
            curve: curve, leafProfile: { $0.extendedKeyUsage = ["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.57264.77.9"] })
        let root = pki.root.certificate
        #expect(root.isSelfSigned && root.isSelfIssued && root.isCertificateAuthority)
        #expect(root.pathLengthConstraint == 1)
        #expect(root.keyUsage == [.keyCertSign, .cRLSign])
        #expect(root.subject.commonName == "Test Root CA" && root.subject.organization == "Cloister")
        #expect(root.subject.description == "CN=Test Root CA,O=Cloister" && root.issuer == root.subject)
        let digest = curve == .p256 ? "SHA256" : "SHA384"
        #expect(root.signatureAlgorithm == "ecdsa-with-\(digest)")
        #expect(root.publicKeyAlgorithm == "id-ecPublicKey")
        #expect(try root.publicKey() == pki.root.privateKey.publicKey)

        let platform = pki.platform.certificate
        #expect(platform.issuer == root.subject && !platform.isSelfSigned && !platform.isSelfIssued)
        #expect(platform.subject.organizationalUnit == "Platforms")
        #expect(platform.subject.description == "CN=Test Platform,OU=Platforms,O=Cloister")
        #expect(platform.pathLengthConstraint == 0 && platform.isCertificateAuthority)
        #expect(root.subjectKeyIdentifier?.count == 20)
        #expect(platform.authorityKeyIdentifier == root.subjectKeyIdentifier)
        #expect(platform.extension(oid: TestPKI.platformIDOID)?.value == TestPKI.platformIDValue)
        let tcb = try #require(platform.extension(oid: TestPKI.tcbLevelOID))
        #expect(tcb.value == TestPKI.tcbLevelValue && !tcb.isCritical)
        #expect(platform.extension(oid: "2.5.29.19")?.isCritical == true)
        #expect(platform.extension(oid: "2.5.29.15")?.isCritical == true)
        #expect(
            platform.extensions.map(\.oid) == [
                "2.5.29.19", "2.5.29.15", "2.5.29.14", "2.5.29.35", TestPKI.platformIDOID, TestPKI.tcbLevelOID,
            ])
        #expect(platform.extendedKeyUsage == nil)

        let leaf = pki.leaf
        #expect(!leaf.isCertificateAuthority && leaf.keyUsage == [.digitalSignature])
        #expect(leaf.pathLengthConstraint == nil)
        #expect(leaf.extendedKeyUsage == ["1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.57264.77.9"])
        #expect(leaf.authorityKeyIdentifier == platform.subjectKeyIdentifier)
        #expect(try leaf.publicKey() == pki.leafKey.publicKey && leaf.publicKey().curve == curve)
        #expect(leaf.notValidBefore == TestPKI.now - 3_600 && leaf.notValidAfter == TestPKI.now + 86_400)
        #expect(leaf.serialNumber.count == 16 && leaf.serialNumber[0] & 0x80 == 0)
        #expect(leaf.serialNumber != platform.serialNumber && leaf.serialNumberHex == hexString(leaf.serialNumber))
        #expect(leaf.isValid(at: TestPKI.now) && leaf.isValid(at: TestPKI.now + 86_400))
        #expect(!leaf.isValid(at: TestPKI.now + 86_401) && !leaf.isValid(at: TestPKI.now - 3_601))
        #expect(leaf.isSignatureValid(issuer: platform) && !leaf.isSignatureValid(issuer: root))
        #expect(leaf.sha256Fingerprint == DigestAlgorithm.sha256.hash(leaf.derRepresentation))
        #expect(Set([root, platform, leaf].map(\.sha256Fingerprint)).count == 3)

        #expect(try X509Certificate(pemRepresentation: leaf.pemRepresentation) == leaf)
        #expect(
            try X509Certificate(derRepresentation: leaf.derRepresentation).derRepresentation == leaf.derRepresentation)
        let bundle = "subject=leaf\n" + leaf.pemRepresentation + "\n" + platform.pemRepresentation
        #expect(try X509Certificate.certificates(fromPEM: bundle) == [leaf, platform])
        #expect(try X509Certificate.certificates(fromPEM: "") == [])
    }

    @Test("an explicit serial number and validity window are written as given")
    func explicitSerial() throws {
        let pki = try TestPKI(leafProfile: {
            $0.serialNumber = [0x00, 0x9f, 0x01]
            $0.notValidAfter = Date(timeIntervalSince1970: 2_600_000_000)
        })
        #expect(pki.leaf.serialNumber == [0x9f, 0x01] && pki.leaf.serialNumberHex == "9f01")
        // After 2049 RFC 5280 requires GeneralizedTime; the round trip shows it was encoded and read correctly.
        #expect(pki.leaf.notValidAfter == Date(timeIntervalSince1970: 2_600_000_000))
    }

    @Test("distinguished names print as RFC 4514 with special characters escaped")
    func nameEscaping() throws {
        let pki = try TestPKI(leafProfile: {
            $0.subject = DistinguishedName(["O": "Acme, Inc.", "CN": "#1 \"key\"+more "])
        })
        #expect(pki.leaf.subject.commonName == "#1 \"key\"+more ")
        #expect(pki.leaf.subject.description == ##"CN=\#1 \"key\"\+more\ ,O=Acme\, Inc."##)
    }

    @Test("an authority refuses a key that is not its own and profiles no certificate can carry")
    func issuanceValidation() throws {
        let pki = try TestPKI()
        expectCryptoError(.invalidKey) {
            _ = try CertificateAuthority(certificate: pki.root.certificate, privateKey: ECPrivateKey(generating: .p256))
        }
        let base = CertificateProfile(
            subject: DistinguishedName(["CN": "x"]), notValidBefore: TestPKI.now, notValidAfter: TestPKI.now + 60,
            isCertificateAuthority: false, keyUsage: [.digitalSignature])
        func variant(_ change: (inout CertificateProfile) -> Void) -> CertificateProfile {
            var profile = base
            change(&profile)
            return profile
        }
        let nullValue: [UInt8] = [0x05, 0x00]
        let refused: KeyValuePairs<String, CertificateProfile> = [
            "validity ends before it starts": variant { $0.notValidAfter = TestPKI.now - 1 },
            "empty subject": variant { $0.subject = DistinguishedName([]) },
            "unknown name attribute": variant { $0.subject = DistinguishedName(["NoSuchAttribute": "x"]) },
            "zero serial": variant { $0.serialNumber = [0, 0] },
            "21-byte serial": variant { $0.serialNumber = [UInt8](repeating: 1, count: 21) },
            "no key usage": variant { $0.keyUsage = [] },
            "path length on an end entity": variant { $0.pathLengthConstraint = 0 },
            "negative path length": variant {
                $0.isCertificateAuthority = true
                $0.pathLengthConstraint = -1
            },
            "custom value not DER": variant {
                $0.customExtensions = [CertificateExtension(oid: "1.2.3.4", value: [0x04])]
            },
            "custom value with trailing bytes": variant {
                $0.customExtensions = [CertificateExtension(oid: "1.2.3.4", value: nullValue + [0])]
            },
            "custom OID not dotted": variant {
                $0.customExtensions = [CertificateExtension(oid: "x.y", value: nullValue)]
            },
            "custom OID duplicating basic constraints": variant {
                $0.customExtensions = [CertificateExtension(oid: "2.5.29.19", value: [0x30, 0x00])]
            },
            "custom OID twice": variant {
                $0.customExtensions = Array(repeating: CertificateExtension(oid: "1.2.3.4", value: nullValue), count: 2)
            },
            "malformed extended key usage": variant { $0.extendedKeyUsage = ["not an oid"] },
            "time beyond year 9999": variant { $0.notValidAfter = Date(timeIntervalSince1970: .infinity) },
            "time not a number": variant { $0.notValidBefore = Date(timeIntervalSince1970: .nan) },
            "time before year 0000": variant { $0.notValidBefore = Date(timeIntervalSince1970: -7e10) },
        ]
        for (label, profile) in refused {
            do {
                _ = try pki.platform.issue(profile, for: pki.leafKey.publicKey)
                Issue.record("issued a certificate with \(label)")
            } catch let error as CryptoError {
                #expect(error.code == .invalidParameter, "\(label): \(error)")
            }
        }
        expectCryptoError(.invalidParameter) {
            _ = try CertificateAuthority.selfSigned(base, privateKey: ECPrivateKey(generating: .p256))
        }
        expectCryptoError(.invalidParameter) {
            _ = try pki.root.issueCRL(number: 1, thisUpdate: TestPKI.now, nextUpdate: TestPKI.now, revoked: [])
        }
    }

    @Test("CRLs parse back with issuer, times, number, authority key id and revoked serials")
    func crlFields() throws {
        let pki = try TestPKI(curve: .p384)
        let crl = try pki.crls(revokingLeaf: true)[1]
        #expect(crl.issuer == pki.platform.certificate.subject)
        #expect(crl.thisUpdate == TestPKI.now - 60 && crl.nextUpdate == TestPKI.now + 86_400 * 30)
        #expect(
            crl.revokedCertificates == [
                RevokedCertificate(serialNumber: pki.leaf.serialNumber, revocationDate: TestPKI.now - 30)
            ])
        #expect(crl.crlNumber == [2])
        #expect(crl.authorityKeyIdentifier == pki.platform.certificate.subjectKeyIdentifier)
        #expect(crl.signatureAlgorithm == "ecdsa-with-SHA384")
        #expect(crl.entry(for: pki.leaf)?.revocationDate == TestPKI.now - 30)
        #expect(crl.entry(for: pki.platform.certificate) == nil)
        #expect(crl.isIssued(byNameOf: pki.platform.certificate) && !crl.isIssued(byNameOf: pki.root.certificate))
        #expect(crl.isSignatureValid(issuer: pki.platform.certificate))
        #expect(!crl.isSignatureValid(issuer: pki.root.certificate))
        #expect(crl.isCurrent(at: TestPKI.now) && !crl.isCurrent(at: TestPKI.now - 61))
        #expect(!crl.isCurrent(at: TestPKI.now + 86_400 * 30))
        let reparsed = try CertificateRevocationList(pemRepresentation: crl.pemRepresentation)
        #expect(reparsed == crl)
        #expect(try CertificateRevocationList(derRepresentation: crl.derRepresentation).revokedCertificates.count == 1)
        let big = try pki.root.issueCRL(
            number: 0x0102_0304_0506, thisUpdate: TestPKI.now, nextUpdate: TestPKI.now + 1, revoked: [])
        #expect(big.crlNumber == [1, 2, 3, 4, 5, 6] && big.revokedCertificates.isEmpty)
    }

    @Test("malformed DER and PEM are refused with a clear error at every truncation, never crash")
    func malformed() throws {
        let pki = try TestPKI()
        let der = pki.leaf.derRepresentation
        for length in 0..<der.count {
            expectCryptoError(.malformedInput) { _ = try X509Certificate(derRepresentation: Array(der.prefix(length))) }
        }
        expectCryptoError(.malformedInput) { _ = try X509Certificate(derRepresentation: der + [0]) }
        expectCryptoError(.malformedInput) {
            _ = try X509Certificate(derRepresentation: [UInt8](repeating: 0xff, count: 64))
        }
        let crlDER = try pki.crls(revokingLeaf: true)[1].derRepresentation
        for length in 0..<crlDER.count {
            expectCryptoError(.malformedInput) {
                _ = try CertificateRevocationList(derRepresentation: Array(crlDER.prefix(length)))
            }
        }
        expectCryptoError(.malformedInput) { _ = try CertificateRevocationList(derRepresentation: der) }
        let broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        expectCryptoError(.malformedInput) { _ = try X509Certificate(pemRepresentation: broken) }
        expectCryptoError(.malformedInput) {
            _ = try X509Certificate.certificates(fromPEM: pki.leaf.pemRepresentation + broken)
        }
        expectCryptoError(.malformedInput) { _ = try X509Certificate(pemRepresentation: "no certificate here") }
        expectCryptoError(.malformedInput) {
            _ = try X509Certificate(pemRepresentation: pki.leaf.pemRepresentation + pki.leaf.pemRepresentation)
        }
        let unterminated = String(pki.leaf.pemRepresentation.dropLast(30))
        expectCryptoError(.malformedInput) { _ = try X509Certificate(pemRepresentation: unterminated) }
        expectCryptoError(.malformedInput) { _ = try CertificateRevocationList(pemRepresentation: broken) }
        do {
            _ = try X509Certificate(derRepresentation: Array(der.prefix(10)))
        } catch let error as CryptoError {
            #expect(error.reason.contains("not exactly one DER X.509 certificate"))
        }
    }

    @Test("a chain carried in evidence reads strictly: PEM blocks and nothing else, canonical base64, exact DER")
    func chainPEM() throws {
        let pki = try TestPKI()
        let blocks = [pki.leaf, pki.platform.certificate, pki.root.certificate].map(\.pemRepresentation)
        let text = blocks.joined()
        #expect(
            try X509Certificate.certificates(fromChainPEM: Array(text.utf8)).map(\.derRepresentation)
                == [pki.leaf, pki.platform.certificate, pki.root.certificate].map(\.derRepresentation))
        let crlf = text.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try X509Certificate.certificates(fromChainPEM: Array(crlf.utf8)).count == 3)
        #expect(try X509Certificate.certificates(fromChainPEM: Array(text.dropLast().utf8)).count == 3)
        func refusal(_ text: String) -> String {
            do {
                _ = try X509Certificate.certificates(fromChainPEM: Array(text.utf8))
                return "accepted"
            } catch let error as CryptoError {
                return error.reason
            } catch {
                return "\(error)"
            }
        }
        let lines = blocks[0].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(refusal("") == "the PEM certificate chain holds no certificate")
        #expect(refusal("chain\n" + text).hasPrefix("line 1 of the PEM certificate chain is not -----BEGIN"))
        #expect(refusal(blocks[0] + "\n" + blocks[1]).hasPrefix("line \(lines.count) of the PEM certificate chain"))
        #expect(refusal(text + "\u{1}").contains("is not -----BEGIN CERTIFICATE-----"))
        #expect(refusal(text + "\n").contains("is not -----BEGIN CERTIFICATE-----"))
        #expect(refusal(String(blocks[0].dropLast(27))).contains("begins a block that has no -----END"))
        let spaced = blocks[0].replacingOccurrences(of: "\n-----END", with: " \n-----END")
        #expect(refusal(spaced).contains("is neither base64 nor -----END CERTIFICATE-----"))
        // The last base64 digit before "=" carries bits the DER does not have: set, they read as the same bytes. A
        // certificate's length varies with its signature's, so take the first of a few whose length leaves bits over.
        let candidates =
            try [pki.leaf, pki.platform.certificate, pki.root.certificate].map(\.derRepresentation)
            + (0..<40).map { _ in try TestPKI().leaf.derRepresentation }
        let der = try #require(candidates.first { $0.count % 3 != 0 })
        let digits = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var padded = Array(Data(der).base64EncodedString())
        let last = try #require(padded.lastIndex { $0 != "=" })
        padded[last] = digits[try #require(digits.firstIndex(of: padded[last])) + 1]
        let lax = "-----BEGIN CERTIFICATE-----\n\(String(padded))\n-----END CERTIFICATE-----\n"
        #expect(Data(base64Encoded: String(padded)).map(Array.init) == der)
        #expect(refusal(lax) == "block 1 of the PEM certificate chain is not canonical base64")
        let extra =
            "-----BEGIN CERTIFICATE-----\n" + Data(der + [0]).base64EncodedString() + "\n-----END CERTIFICATE-----\n"
        #expect(
            refusal(extra).hasPrefix("block 1 of the PEM certificate chain: \(der.count + 1) bytes are not exactly"))
    }

    @Test(
        "the pinned AWS Nitro root G1 has its published fingerprint and is a self-signed P-384 CA"
    )
    func awsNitroRoot() throws {
        let url = TestEnvironment.vector("testvectors/nitro/aws-nitro-root-g1.pem")
        let root = try X509Certificate(pemRepresentation: String(contentsOf: url, encoding: .utf8))
        #expect(hexString(root.sha256Fingerprint) == "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b")
        #expect(root.isSelfSigned && root.isCertificateAuthority && root.keyUsage?.contains(.keyCertSign) == true)
        #expect(root.subject.commonName == "aws.nitro-enclaves" && root.subject.organization == "Amazon")
        #expect(try root.publicKey().curve == .p384)
        #expect(root.signatureAlgorithm == "ecdsa-with-SHA384")
        // Trusting only itself, the root verifies as a chain of one inside its validity window.
        try CertificateChainVerifier(trustAnchors: [root], requiredLeafKeyUsage: [.keyCertSign])
            .verify([root], at: root.notValidBefore + 86_400)
    }
}
