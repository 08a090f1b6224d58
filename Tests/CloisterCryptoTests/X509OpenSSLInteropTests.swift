import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// The `openssl` command-line tool as an independent implementation of X.509 and CRL checking.
@Suite("X.509 interop with the openssl CLI")
struct X509OpenSSLInteropTests {
    private func write(_ text: String, _ name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test("openssl verify -crl_check accepts the Swift-issued chain and refuses it once the leaf is revoked")
    func opensslVerifiesOurChain() throws {
        let pki = try TestPKI()
        let directory = try TestEnvironment.temporaryDirectory("x509-interop")
        defer { try? FileManager.default.removeItem(at: directory) }
        let root = try write(pki.root.certificate.pemRepresentation, "root.pem", in: directory)
        let platform = try write(pki.platform.certificate.pemRepresentation, "platform.pem", in: directory)
        let leaf = try write(pki.leaf.pemRepresentation, "leaf.pem", in: directory)
        let goodCRLs = try write(pki.crls().map(\.pemRepresentation).joined(), "crls.pem", in: directory)
        let revokedCRLs = try write(
            pki.crls(revokingLeaf: true).map(\.pemRepresentation).joined(), "revoked.pem", in: directory)
        let at = String(Int(TestPKI.now.timeIntervalSince1970))
        func verify(_ crlFile: String) throws -> ToolOutput {
            try runTool(
                "openssl",
                [
                    "verify", "-x509_strict", "-CAfile", root, "-untrusted", platform, "-CRLfile", crlFile,
                    "-crl_check_all", "-attime", at, leaf,
                ])
        }
        let good = try verify(goodCRLs)
        #expect(good.status == 0, "\(good.standardOutput)\(good.standardError)")
        #expect(good.standardOutput.contains("leaf.pem: OK"))
        let revoked = try verify(revokedCRLs)
        #expect(revoked.status != 0)
        #expect((revoked.standardOutput + revoked.standardError).contains("certificate revoked"))
    }

    @Test("openssl x509 and crl print our extensions and revoked serials")
    func opensslParsesOurEncodings() throws {
        let pki = try TestPKI()
        let text = try runTool(
            "openssl", ["x509", "-noout", "-text"], input: Array(pki.platform.certificate.pemRepresentation.utf8))
        #expect(text.status == 0)
        #expect(text.standardOutput.contains(TestPKI.platformIDOID))
        #expect(text.standardOutput.contains("CA:TRUE, pathlen:0"))
        #expect(text.standardOutput.contains("Certificate Sign, CRL Sign"))
        let crl = try pki.crls(revokingLeaf: true)[1]
        let crlText = try runTool("openssl", ["crl", "-noout", "-text"], input: Array(crl.pemRepresentation.utf8))
        #expect(crlText.status == 0)
        #expect(crlText.standardOutput.uppercased().contains(pki.leaf.serialNumberHex.uppercased()))
        #expect(crlText.standardOutput.contains("X509v3 CRL Number"))
    }

    @Test("a chain made by the openssl CLI parses and verifies here, and fails under another anchor")
    func weVerifyOpenSSLChain() throws {
        let directory = try TestEnvironment.temporaryDirectory("x509-openssl-made")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = { (name: String) in directory.appendingPathComponent(name).path }
        try "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            .write(toFile: path("leaf.ext"), atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            ["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", path("ca.key")],
            [
                "req", "-x509", "-new", "-key", path("ca.key"), "-subj", "/O=OpenSSL Made/CN=Interop Root", "-days",
                "30",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                "-out", path("ca.pem"),
            ],
            ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path("leaf.key")],
            ["req", "-new", "-key", path("leaf.key"), "-subj", "/CN=Interop Leaf", "-out", path("leaf.csr")],
            [
                "x509", "-req", "-in", path("leaf.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-days", "7", "-extfile", path("leaf.ext"), "-out", path("leaf.pem"),
            ],
        ]
        for step in steps {
            let result = try runTool("openssl", step)
            try #require(result.status == 0, "openssl \(step.first!) failed: \(result.standardError)")
        }
        let root = try X509Certificate(pemRepresentation: String(contentsOfFile: path("ca.pem"), encoding: .utf8))
        let leaf = try X509Certificate(pemRepresentation: String(contentsOfFile: path("leaf.pem"), encoding: .utf8))
        #expect(root.isSelfSigned && root.subject.commonName == "Interop Root")
        #expect(try root.publicKey().curve == .p384)
        #expect(leaf.issuer == root.subject && leaf.keyUsage == [.digitalSignature])
        let key = try ECPrivateKey(pemRepresentation: String(contentsOfFile: path("leaf.key"), encoding: .utf8))
        #expect(try leaf.publicKey() == key.publicKey)
        let now = Date()
        try CertificateChainVerifier(trustAnchors: [root]).verify(leaf: leaf, at: now)
        expectRejection(.untrustedRoot) {
            try CertificateChainVerifier(trustAnchors: [TestPKI().root.certificate]).verify(leaf: leaf, at: now)
        }
        expectRejection(.expired) {
            try CertificateChainVerifier(trustAnchors: [root]).verify(leaf: leaf, at: now + 8 * 86_400)
        }
    }
}
