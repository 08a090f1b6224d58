import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// The `openssl` command-line tool as an independent implementation of X.509 and CRL checking, both ways.
@Suite("X.509 interop with the openssl CLI")
struct X509OpenSSLInteropTests {
    /// A temporary directory with files written into it.
    private struct Workspace: ~Copyable {
        let directory: URL

        init(_ label: String) throws {
            directory = try TestEnvironment.temporaryDirectory(label)
        }

        deinit { try? FileManager.default.removeItem(at: directory) }

        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

        @discardableResult
        func write(_ text: String, _ name: String) throws -> String {
            try text.write(toFile: path(name), atomically: true, encoding: .utf8)
            return path(name)
        }

        func read(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }
    }

    private func openssl(_ arguments: [String], input: String? = nil) throws -> ToolOutput {
        try runTool("openssl", arguments, input: input.map { Array($0.utf8) })
    }

    @Test("openssl verify -crl_check_all accepts the Swift-issued chain and refuses it once the leaf is revoked")
    func opensslVerifiesOurChain() throws {
        let pki = try TestPKI()
        let workspace = try Workspace("x509-interop")
        let root = try workspace.write(pki.root.certificate.pemRepresentation, "root.pem")
        let platform = try workspace.write(pki.platform.certificate.pemRepresentation, "platform.pem")
        let leaf = try workspace.write(pki.leaf.pemRepresentation, "leaf.pem")
        let crls = try workspace.write(pki.crls().map(\.pemRepresentation).joined(), "crls.pem")
        let revoked = try workspace.write(
            pki.crls(revokingLeaf: true).map(\.pemRepresentation).joined(), "revoked.pem")
        func verify(_ crlFile: String, at time: Date = TestPKI.now) throws -> ToolOutput {
            try openssl([
                "verify", "-x509_strict", "-CAfile", root, "-untrusted", platform, "-CRLfile", crlFile,
                "-crl_check_all", "-attime", String(Int(time.timeIntervalSince1970)), leaf,
            ])
        }
        let good = try verify(crls)
        #expect(good.status == 0, "\(good.standardOutput)\(good.standardError)")
        #expect(good.standardOutput.contains("leaf.pem: OK"))
        let refused = try verify(revoked)
        #expect(refused.status != 0)
        #expect((refused.standardOutput + refused.standardError).contains("certificate revoked"))
        // Both accept before notAfter and refuse after it. At the notAfter second itself Cloister follows RFC 5280
        // (valid) where OpenSSL 3.0's command counts it as expired (X509ChainTests.validityEdges).
        #expect(try verify(crls, at: pki.leaf.notValidAfter - 1).status == 0)
        let expired = try verify(crls, at: pki.leaf.notValidAfter + 1)
        #expect((expired.standardOutput + expired.standardError).contains("certificate has expired"))
    }

    @Test("openssl x509 and crl print our extensions, fingerprint and revoked serials")
    func opensslParsesOurEncodings() throws {
        let pki = try TestPKI()
        let platform = pki.platform.certificate
        let text = try openssl(["x509", "-noout", "-text"], input: platform.pemRepresentation)
        #expect(text.status == 0, "\(text.standardError)")
        #expect(text.standardOutput.contains(TestPKI.platformIDOID))
        #expect(text.standardOutput.contains(TestPKI.tcbLevelOID))
        #expect(text.standardOutput.contains("CA:TRUE, pathlen:0"))
        #expect(text.standardOutput.contains("Certificate Sign, CRL Sign"))
        #expect(text.standardOutput.contains("Subject: O = Cloister, OU = Platforms, CN = Test Platform"))
        // The custom extensions' raw DER, as openssl's ASN.1 parser sees it.
        let parsed = try openssl(["asn1parse", "-inform", "PEM"], input: platform.pemRepresentation)
        #expect(parsed.standardOutput.contains("[HEX DUMP]:0402BEEF"))
        #expect(parsed.standardOutput.contains("[HEX DUMP]:020107"))
        let fingerprint = try openssl(["x509", "-noout", "-fingerprint", "-sha256"], input: platform.pemRepresentation)
        let colonHex = platform.sha256Fingerprint.map { String(format: "%02X", $0) }.joined(separator: ":")
        #expect(fingerprint.standardOutput.contains(colonHex))
        let serial = try openssl(["x509", "-noout", "-serial"], input: pki.leaf.pemRepresentation)
        #expect(serial.standardOutput.lowercased() == "serial=\(pki.leaf.serialNumberHex)\n")

        let crl = try pki.crls(revokingLeaf: true)[1]
        let crlText = try openssl(["crl", "-noout", "-text"], input: crl.pemRepresentation)
        #expect(crlText.status == 0, "\(crlText.standardError)")
        #expect(crlText.standardOutput.uppercased().contains(pki.leaf.serialNumberHex.uppercased()))
        #expect(crlText.standardOutput.contains("X509v3 CRL Number"))
        #expect(crlText.standardOutput.contains("Version 2 (0x1)"))
        #expect(crlText.standardOutput.contains("Issuer: O = Cloister, OU = Platforms, CN = Test Platform"))
    }

    @Test("a chain made by openssl req -x509 and openssl x509 -req parses and verifies here")
    func weVerifyOpenSSLChain() throws {
        let workspace = try Workspace("x509-openssl-made")
        try workspace.write(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"
                + "1.3.6.1.4.1.57264.77.2=DER:02:01:07\n",
            "leaf.ext")
        let steps: [[String]] = [
            ["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", workspace.path("ca.key")],
            [
                "req", "-x509", "-new", "-key", workspace.path("ca.key"), "-subj", "/O=OpenSSL Made/CN=Interop Root",
                "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", workspace.path("ca.pem"),
            ],
            ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", workspace.path("leaf.key")],
            [
                "req", "-new", "-key", workspace.path("leaf.key"), "-subj", "/CN=Interop Leaf", "-out",
                workspace.path("leaf.csr"),
            ],
            [
                "x509", "-req", "-in", workspace.path("leaf.csr"), "-CA", workspace.path("ca.pem"),
                "-CAkey", workspace.path("ca.key"), "-set_serial", "0x1234567890", "-days", "7",
                "-extfile", workspace.path("leaf.ext"), "-out", workspace.path("leaf.pem"),
            ],
        ]
        for step in steps {
            let result = try openssl(step)
            try #require(result.status == 0, "openssl \(step[0]) failed: \(result.standardError)")
        }
        let root = try X509Certificate(pemRepresentation: workspace.read("ca.pem"))
        let leaf = try X509Certificate(pemRepresentation: workspace.read("leaf.pem"))
        #expect(root.isSelfSigned && root.subject.commonName == "Interop Root")
        #expect(root.subject.organization == "OpenSSL Made" && root.isCertificateAuthority)
        #expect(try root.publicKey().curve == .p384 && root.signatureAlgorithm == "ecdsa-with-SHA256")
        #expect(leaf.issuer == root.subject && leaf.keyUsage == [.digitalSignature])
        #expect(leaf.serialNumberHex == "1234567890" && leaf.extendedKeyUsage == ["1.3.6.1.5.5.7.3.2"])
        #expect(leaf.extension(oid: "1.3.6.1.4.1.57264.77.2")?.value == [0x02, 0x01, 0x07])
        let key = try ECPrivateKey(pemRepresentation: workspace.read("leaf.key"))
        #expect(try leaf.publicKey() == key.publicKey)
        // openssl stamps the certificates with the real clock, so verify around it.
        let now = Date()
        let verifier = CertificateChainVerifier(trustAnchors: [root])
        #expect(try verifier.verify(leaf: leaf, at: now) == [leaf, root])
        expectRejection(.untrustedRoot) {
            try CertificateChainVerifier(trustAnchors: [TestPKI().root.certificate]).verify(leaf: leaf, at: now)
        }
        expectRejection(.expired) { try verifier.verify(leaf: leaf, at: now + 8 * 86_400) }
        // Our CRL, issued with openssl's root key, revokes openssl's leaf.
        let authority = try CertificateAuthority(
            certificate: root, privateKey: ECPrivateKey(pemRepresentation: workspace.read("ca.key")))
        let crl = try authority.issueCRL(
            number: 1, thisUpdate: now - 60, nextUpdate: now + 3_600,
            revoked: [RevokedCertificate(serialNumber: leaf.serialNumber, revocationDate: now - 30)])
        expectRejection(.revoked, mentioning: ["serial 1234567890"]) {
            try verifier.verify(leaf: leaf, crls: [crl], at: now)
        }
    }

    @Test("an RSA certificate parses; its key is named but refused as an EC key; its chain still verifies")
    func rsaCertificate() throws {
        let workspace = try Workspace("x509-rsa")
        let made = try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", workspace.path("rsa.key"),
            "-subj", "/CN=RSA Root", "-days", "2", "-addext", "keyUsage=critical,keyCertSign,digitalSignature",
            "-out", workspace.path("rsa.pem"),
        ])
        try #require(made.status == 0, "\(made.standardError)")
        let certificate = try X509Certificate(pemRepresentation: workspace.read("rsa.pem"))
        #expect(certificate.publicKeyAlgorithm == "rsaEncryption")
        #expect(certificate.signatureAlgorithm == "sha256WithRSAEncryption")
        expectCryptoError(.invalidKey) { _ = try certificate.publicKey() }
        try CertificateChainVerifier(trustAnchors: [certificate]).verify([certificate], at: Date())
    }
}
