import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// RSA keys and RSASSA-PSS certificate authorities (AMD's parameters: SHA-384, MGF1-SHA-384, salt 48), checked with
/// the openssl CLI as an independent implementation.
@Suite("RSA-PSS certificate authorities, checked with the openssl CLI")
struct RSAPSSCertificateTests {
    private let start = Date(timeIntervalSince1970: 1_700_000_000)

    private func profile(_ name: String, ca: Bool, pathLength: Int? = nil) -> CertificateProfile {
        CertificateProfile(
            subject: DistinguishedName(["O": "Cloister Test", "CN": name]), notValidBefore: start,
            notValidAfter: start + 365 * 86_400, isCertificateAuthority: ca,
            pathLengthConstraint: ca ? pathLength : nil,
            keyUsage: ca ? [.keyCertSign, .cRLSign] : [.digitalSignature])
    }

    private func write(_ text: String, _ name: String, in directory: URL) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("an RSA key round-trips through PKCS#8 DER and PEM; a wrong size or an EC key is refused")
    func keyEncodings() throws {
        let key = try RSAPrivateKey(generatingBits: 2048)
        #expect(key.bitCount == 2048)
        let fromDER = try RSAPrivateKey(derRepresentation: key.pkcs8DERRepresentation)
        let fromPEM = try RSAPrivateKey(pemRepresentation: key.pkcs8PEMRepresentation)
        #expect(fromDER.publicKey == key.publicKey && fromPEM.publicKey == key.publicKey)
        #expect(try RSAPublicKey(derRepresentation: key.publicKey.derRepresentation) == key.publicKey)
        #expect(key.pkcs8PEMRepresentation.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(try RSAPrivateKey(generatingBits: 2048).publicKey != key.publicKey)
        #expect(throws: CryptoError.self) { try RSAPrivateKey(generatingBits: 1024) }
        #expect(throws: CryptoError.self) { try RSAPrivateKey(generatingBits: 2049) }
        let ec = try ECPrivateKey(generating: .p384)
        #expect(throws: CryptoError.self) { try RSAPrivateKey(derRepresentation: ec.pkcs8DERRepresentation) }
        #expect(throws: CryptoError.self) {
            try CertificateAuthority(
                certificate: CertificateAuthority.selfSigned(profile("EC", ca: true), privateKey: ec).certificate,
                privateKey: key)
        }
    }

    @Test("an RSA-PSS root, intermediate and P-384 leaf: openssl verify accepts them and shows PSS, SHA-384, salt 48")
    func chainWithOpenSSL() throws {
        let directory = try TestEnvironment.temporaryDirectory("rsa-pss")
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = try CertificateAuthority.selfSigned(
            profile("PSS Root", ca: true), privateKey: RSAPrivateKey(generatingBits: 2048))
        let intermediateKey = try RSAPrivateKey(generatingBits: 2048)
        let intermediate = try CertificateAuthority(
            certificate: root.issue(
                profile("PSS Intermediate", ca: true, pathLength: 0), for: intermediateKey.publicKey),
            privateKey: intermediateKey)
        let leafKey = try ECPrivateKey(generating: .p384)
        let leaf = try intermediate.issue(profile("P-384 Leaf", ca: false), for: leafKey.publicKey)
        for certificate in [root.certificate, intermediate.certificate, leaf] {
            #expect(certificate.signatureAlgorithm == "rsassaPss", "\(certificate.subject)")
        }
        #expect(root.certificate.publicKeyAlgorithm == "rsaEncryption" && leaf.publicKeyAlgorithm == "id-ecPublicKey")
        #expect(try leaf.publicKey() == leafKey.publicKey)
        let time = start + 86_400
        let path = try CertificateChainVerifier(trustAnchors: [root.certificate])
            .verify(leaf: leaf, intermediates: [intermediate.certificate], at: time)
        #expect(path.count == 3)

        let rootPEM = try write(root.certificate.pemRepresentation, "root.pem", in: directory)
        let intermediatePEM = try write(intermediate.certificate.pemRepresentation, "intermediate.pem", in: directory)
        let leafPEM = try write(leaf.pemRepresentation, "leaf.pem", in: directory)
        let verified = try runTool(
            "openssl",
            [
                "verify", "-attime", String(Int(time.timeIntervalSince1970)), "-CAfile", rootPEM, "-untrusted",
                intermediatePEM, leafPEM,
            ])
        #expect(verified.status == 0, "\(verified.standardOutput) \(verified.standardError)")
        let text = try runTool("openssl", ["x509", "-in", leafPEM, "-noout", "-text"]).standardOutput
        #expect(text.contains("Signature Algorithm: rsassaPss"))
        #expect(text.contains("Hash Algorithm: sha384"))
        #expect(text.contains("Mask Algorithm: mgf1 with sha384"))
        #expect(text.contains("Salt Length: 0x30"))
        // Another root of the same name does not verify the chain.
        let other = try CertificateAuthority.selfSigned(
            profile("PSS Root", ca: true), privateKey: RSAPrivateKey(generatingBits: 2048))
        let otherPEM = try write(other.certificate.pemRepresentation, "other.pem", in: directory)
        let refused = try runTool(
            "openssl",
            [
                "verify", "-attime", String(Int(time.timeIntervalSince1970)), "-CAfile", otherPEM, "-untrusted",
                intermediatePEM, leafPEM,
            ])
        #expect(refused.status != 0)
    }

    @Test(
        "an RSA-PSS CRL: openssl crl verifies it with the root's key, and openssl verify -crl_check refuses the revoked"
    )
    func revocationListWithOpenSSL() throws {
        let directory = try TestEnvironment.temporaryDirectory("rsa-pss-crl")
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = try CertificateAuthority.selfSigned(
            profile("PSS Root", ca: true), privateKey: RSAPrivateKey(generatingBits: 2048))
        let intermediateKey = try RSAPrivateKey(generatingBits: 2048)
        let intermediate = try root.issue(profile("PSS Intermediate", ca: true), for: intermediateKey.publicKey)
        let time = start + 86_400
        let crl = try root.issueCRL(
            number: 7, thisUpdate: start, nextUpdate: start + 7 * 86_400,
            revoked: [RevokedCertificate(serialNumber: intermediate.serialNumber, revocationDate: start)])
        #expect(crl.signatureAlgorithm == "rsassaPss")
        #expect(crl.isSignatureValid(issuer: root.certificate))
        #expect(throws: CertificateChainError.self) {
            try CertificateChainVerifier(trustAnchors: [root.certificate])
                .verify(leaf: intermediate, crls: [crl], at: time)
        }
        let rootPEM = try write(root.certificate.pemRepresentation, "root.pem", in: directory)
        let crlPEM = try write(crl.pemRepresentation, "crl.pem", in: directory)
        let intermediatePEM = try write(intermediate.pemRepresentation, "intermediate.pem", in: directory)
        let checked = try runTool("openssl", ["crl", "-in", crlPEM, "-CAfile", rootPEM, "-noout", "-text"])
        #expect(checked.standardError.contains("verify OK") || checked.standardOutput.contains("verify OK"))
        #expect(checked.standardOutput.contains("Salt Length: 0x30"))
        let refused = try runTool(
            "openssl",
            [
                "verify", "-attime", String(Int(time.timeIntervalSince1970)), "-crl_check", "-CAfile", rootPEM,
                "-CRLfile", crlPEM, intermediatePEM,
            ])
        #expect(refused.status != 0)
        #expect((refused.standardOutput + refused.standardError).contains("certificate revoked"))
    }

    @Test("an ECDSA authority keeps its API: privateKey, signingKey and ECDSA signatures")
    func ecdsaAuthorityUnchanged() throws {
        let key = try ECPrivateKey(generating: .p384)
        let root = try CertificateAuthority.selfSigned(profile("EC Root", ca: true), privateKey: key)
        #expect(root.privateKey.publicKey == key.publicKey)
        #expect(root.certificate.signatureAlgorithm == "ecdsa-with-SHA384")
        guard case .ecdsa = root.signingKey else {
            Issue.record("an EC authority signs ECDSA")
            return
        }
        let leaf = try root.issue(profile("EC Leaf", ca: false), for: ECPrivateKey(generating: .p256).publicKey)
        #expect(leaf.isSignatureValid(issuer: root.certificate))
    }
}
