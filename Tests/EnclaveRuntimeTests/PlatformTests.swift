import Attestation
import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

@Suite("Simulated platform: home, PKI, TCB level, revocation")
struct PlatformTests {
    private func mode(_ path: String) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test("init creates a 0700 home of 0600 files and refuses to initialise it twice")
    func layout() throws {
        let fixture = try PlatformFixture()
        #expect(try mode(fixture.home.path) == 0o700)
        #expect(try mode(fixture.home.countersDirectory) == 0o700)
        for file in PlatformHome.File.allCases {
            #expect(try mode(try fixture.home.path(of: file)) == 0o600, "\(file.rawValue)")
        }
        #expect(fixture.platform.tcbLevel == 1)
        #expect(fixture.platform.platformID.count == 16)
        let error = #expect(throws: PlatformError.self) {
            try Platform.initialize(home: fixture.home, amdKeyBits: 2048)
        }
        #expect(error?.code == .alreadyInitialized)
    }

    @Test("a home others can read, a readable secret file, or no platform at all is refused, naming the path")
    func refusesInsecureState() throws {
        let fixture = try PlatformFixture()
        let secret = try fixture.home.path(of: .deviceSecret)
        chmod(secret, 0o644)
        var error = #expect(throws: PlatformError.self) { try fixture.reopened() }
        #expect(error?.code == .insecurePermissions)
        #expect(error?.reason.contains(secret) == true)
        chmod(secret, 0o600)
        chmod(fixture.home.path, 0o755)
        error = #expect(throws: PlatformError.self) { try fixture.reopened() }
        #expect(error?.code == .insecurePermissions)
        chmod(fixture.home.path, 0o700)
        _ = try fixture.reopened()
        let empty = try TestEnvironment.temporaryDirectory("empty-home")
        error = #expect(throws: PlatformError.self) { try Platform(opening: PlatformHome(path: empty.path)) }
        #expect(error?.code == .notInitialized)
    }

    @Test("the attestation key chains to the root through the platform certificate, strict profile and CRLs")
    func chain() throws {
        let fixture = try PlatformFixture()
        let platform = fixture.platform
        let path = try fixture.chainVerifier().verify(
            leaf: platform.attestationCertificate, intermediates: [platform.platformCertificate],
            crls: platform.revocationLists, at: Date())
        #expect(path == [platform.attestationCertificate, platform.platformCertificate, platform.rootCertificate])
        #expect(PlatformCertificateExtensions.platformID(of: platform.platformCertificate) == platform.platformID)
        #expect(PlatformCertificateExtensions.tcbLevel(of: platform.platformCertificate) == 1)
        #expect(platform.platformCertificate.pathLengthConstraint == 0)
        #expect(platform.attestationCertificate.isCertificateAuthority == false)
        #expect(platform.attestationCertificate.keyUsage == [.digitalSignature])
        #expect(platform.revocationLists.count == 2)
    }

    @Test("openssl verify -crl_check_all accepts the platform chain")
    func opensslAcceptsChain() throws {
        let fixture = try PlatformFixture()
        let platform = fixture.platform
        let chain = fixture.directory.appendingPathComponent("untrusted.pem")
        let leaf = fixture.directory.appendingPathComponent("leaf.pem")
        try Data(platform.platformCertificate.pemRepresentation.utf8).write(to: chain)
        try Data(platform.attestationCertificate.pemRepresentation.utf8).write(to: leaf)
        let output = try runTool(
            "openssl",
            [
                "verify", "-x509_strict", "-crl_check_all", "-CAfile", try fixture.home.path(of: .rootCertificate),
                "-CRLfile", try fixture.home.path(of: .revocationLists), "-untrusted", chain.path, leaf.path,
            ])
        #expect(output.status == 0, "\(output.standardOutput)\(output.standardError)")
    }

    @Test("moving the TCB level reissues the platform certificate and marks older levels out of date")
    func tcbLevel() throws {
        let fixture = try PlatformFixture()
        let moved = try Platform.setTCBLevel(3, home: fixture.home)
        #expect(moved.tcbLevel == 3)
        #expect(PlatformCertificateExtensions.tcbLevel(of: moved.platformCertificate) == 3)
        #expect(moved.platformCertificate.serialNumber != fixture.platform.platformCertificate.serialNumber)
        let list = try TCBStatusList(encoded: moved.tcbStatusList, root: moved.rootCertificate)
        #expect(list.latestLevel == 3)
        #expect(list.platformID == moved.platformID)
        #expect(list.status(of: 1) == .outOfDate)
        #expect(list.status(of: 3) == .upToDate)
        #expect(list.status(of: 4) == .unknown)
        // Moving back down keeps the latest level published: the platform is now out of date.
        let rolledBack = try Platform.setTCBLevel(2, home: fixture.home)
        let after = try TCBStatusList(encoded: rolledBack.tcbStatusList, root: rolledBack.rootCertificate)
        #expect(after.status(of: rolledBack.tcbLevel) == .outOfDate)
        try fixture.chainVerifier().verify(
            leaf: rolledBack.attestationCertificate, intermediates: [rolledBack.platformCertificate],
            crls: rolledBack.revocationLists, at: Date())
        #expect(throws: PlatformError.self) { try Platform.setTCBLevel(0, home: fixture.home) }
    }

    @Test("a TCB-status list verifies only with its own root and unaltered")
    func tcbListSignature() throws {
        let fixture = try PlatformFixture()
        let other = try PlatformFixture()
        let list = fixture.platform.tcbStatusList
        #expect(throws: AttestationError.self) {
            try TCBStatusList(encoded: list, root: other.platform.rootCertificate)
        }
        var altered = list
        altered[altered.count / 2] ^= 0x01
        #expect(throws: AttestationError.self) {
            try TCBStatusList(encoded: altered, root: fixture.platform.rootCertificate)
        }
    }

    @Test("revoking the platform certificate makes its chain fail the CRL check and freezes its TCB level")
    func revoke() throws {
        let fixture = try PlatformFixture()
        let revoked = try Platform.revoke(home: fixture.home)
        #expect(revoked.isRevoked)
        let error = #expect(throws: CertificateChainError.self) {
            try fixture.chainVerifier().verify(
                leaf: revoked.attestationCertificate, intermediates: [revoked.platformCertificate],
                crls: revoked.revocationLists, at: Date())
        }
        #expect(error?.check == .revoked)
        #expect(throws: PlatformError.self) { try Platform.setTCBLevel(2, home: fixture.home) }
    }

    @Test(
        "TCB level extensions are minimal DER integers that round-trip",
        arguments: [0, 1, 127, 128, 255, 65535, UInt32.max])
    func tcbExtension(level: UInt32) throws {
        let fixture = try PlatformFixture()
        let key = try ECPrivateKey(generating: .p256)
        let authority = try CertificateAuthority(
            certificate: fixture.platform.rootCertificate,
            privateKey: ECPrivateKey(
                pemRepresentation: String(contentsOfFile: try fixture.home.path(of: .rootKey), encoding: .utf8)))
        let certificate = try authority.issue(
            CertificateProfile(
                subject: DistinguishedName(["CN": "tcb \(level)"]), notValidBefore: Date(),
                notValidAfter: Date() + 60, isCertificateAuthority: false, keyUsage: [.digitalSignature],
                customExtensions: [PlatformCertificateExtensions.tcbLevel(level)]),
            for: key.publicKey)
        #expect(PlatformCertificateExtensions.tcbLevel(of: certificate) == level)
    }

    @Test("malformed platform-id and TCB-level extension values read as absent")
    func malformedExtensions() throws {
        let fixture = try PlatformFixture()
        let authority = try CertificateAuthority(
            certificate: fixture.platform.rootCertificate,
            privateKey: ECPrivateKey(
                pemRepresentation: String(contentsOfFile: try fixture.home.path(of: .rootKey), encoding: .utf8)))
        let cases: [(String, CertificateExtension)] = [
            (
                "negative integer",
                CertificateExtension(oid: PlatformCertificateExtensions.tcbLevelOID, value: [0x02, 0x01, 0x80])
            ),
            (
                "five-byte integer",
                CertificateExtension(
                    oid: PlatformCertificateExtensions.tcbLevelOID, value: [0x02, 0x05, 0x01, 0, 0, 0, 0])
            ),
            (
                "short platform id",
                CertificateExtension(oid: PlatformCertificateExtensions.platformIDOID, value: [0x04, 0x02, 0x01, 0x02])
            ),
            (
                "platform id as an integer",
                CertificateExtension(oid: PlatformCertificateExtensions.platformIDOID, value: [0x02, 0x01, 0x01])
            ),
        ]
        for (name, custom) in cases {
            let certificate = try authority.issue(
                CertificateProfile(
                    subject: DistinguishedName(["CN": name]), notValidBefore: Date(), notValidAfter: Date() + 60,
                    isCertificateAuthority: false, keyUsage: [.digitalSignature], customExtensions: [custom]),
                for: ECPrivateKey(generating: .p256).publicKey)
            #expect(PlatformCertificateExtensions.tcbLevel(of: certificate) == nil, "\(name)")
            #expect(PlatformCertificateExtensions.platformID(of: certificate) == nil, "\(name)")
        }
    }

    @Test("a TCB-status list with a well-signed but malformed payload is refused")
    func malformedTCBList() throws {
        let fixture = try PlatformFixture()
        let rootKey = try ECPrivateKey(
            pemRepresentation: String(contentsOfFile: try fixture.home.path(of: .rootKey), encoding: .utf8))
        for payload: CBORValue in [
            [
                "format": "cloister-tcb-status-v2", "issued": 1, "latest": 1,
                "platform_id": .bytes(fixture.platform.platformID),
            ],
            ["format": .text(TCBStatusList.format), "issued": 1, "latest": 1, "platform_id": .bytes([1])],
            ["format": .text(TCBStatusList.format), "issued": 1, "platform_id": .bytes(fixture.platform.platformID)],
        ] {
            let signed = try COSESign1(signing: payload.encoded(), with: rootKey).encoded()
            #expect(throws: AttestationError.self) {
                try TCBStatusList(encoded: signed, root: fixture.platform.rootCertificate)
            }
        }
    }
}
