import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import SimulatedHardware
import Testing
import Verifier

private typealias Fixture = SimulatedAMDFixture

private func failed(_ outcome: EvidenceVerifier.Outcome) -> [String] {
    outcome.checks.filter { !$0.passed }.map(\.name)
}

/// `bytes` as a DER INTEGER (unsigned, shortest form).
private func derInteger(_ bytes: [UInt8]) -> [UInt8] {
    var content = Array(bytes.drop { $0 == 0 })
    if content.isEmpty || content[0] & 0x80 != 0 { content.insert(0, at: 0) }
    return [0x02, UInt8(content.count)] + content
}

@Suite("Simulated SEV-SNP reports: the openssl CLI and Cloister's snp verifier accept them, by the mapping rules")
struct SimulatedSNPReportTests {
    private let level: UInt32 = 3
    private var tcb: SimulatedTCB { SimulatedTCB(level: level, latestLevel: 4) }

    @Test("openssl verify accepts the simulated ARK→ASK→VCEK and ARK→ASVK→VLEK chains (RSA-PSS), and the CRL")
    func chainsWithOpenSSL() throws {
        let collateral = try Fixture.collateral(tcb)
        let directory = try TestEnvironment.temporaryDirectory("simulated-amd-chain")
        defer { try? FileManager.default.removeItem(at: directory) }
        func file(_ text: String, _ name: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let ark = try file(collateral.ark.pemRepresentation, "ark.pem")
        let ask = try file(collateral.ask.pemRepresentation, "ask.pem")
        let asvk = try file(collateral.asvk.pemRepresentation, "asvk.pem")
        let vcek = try file(collateral.vcek.pemRepresentation, "vcek.pem")
        let vlek = try file(try #require(collateral.vlek).pemRepresentation, "vlek.pem")
        let crl = try file(collateral.crl.pemRepresentation, "crl.pem")
        let at = String(Int(Fixture.now.timeIntervalSince1970))
        for (leaf, intermediate) in [(vcek, ask), (vlek, asvk)] {
            let output = try runTool(
                "openssl", ["verify", "-attime", at, "-CAfile", ark, "-untrusted", intermediate, leaf])
            #expect(output.status == 0, "\(output.standardOutput) \(output.standardError)")
            // The ARK's CRL covers the ASK and ASVK: current, and not listing them.
            let checked = try runTool(
                "openssl", ["verify", "-attime", at, "-crl_check", "-CAfile", ark, "-CRLfile", crl, intermediate])
            #expect(checked.status == 0, "\(checked.standardOutput) \(checked.standardError)")
        }
        // Once the platform is revoked, its CRL lists the ASK and ASVK: openssl refuses them.
        let revoked = try Fixture.collateral(SimulatedTCB(level: level, latestLevel: 4, isRevoked: true))
        let revokedCRL = try file(revoked.crl.pemRepresentation, "revoked-crl.pem")
        for intermediate in [ask, asvk] {
            let refused = try runTool(
                "openssl",
                ["verify", "-attime", at, "-crl_check", "-CAfile", ark, "-CRLfile", revokedCRL, intermediate])
            #expect(refused.status != 0)
            #expect((refused.standardOutput + refused.standardError).contains("certificate revoked"))
        }
        let text = try runTool("openssl", ["x509", "-in", vcek, "-noout", "-text"]).standardOutput
        #expect(text.contains("rsassaPss") && text.contains("Salt Length: 0x30") && text.contains("secp384r1"))
        #expect(text.contains("CN=Cloister Simulated SEV-VCEK") || text.contains("CN = Cloister Simulated SEV-VCEK"))
        #expect(text.contains("1.3.6.1.4.1.3704.1.4") && text.contains("1.3.6.1.4.1.3704.1.3.8"))
        let arkText = try runTool("openssl", ["x509", "-in", ark, "-noout", "-text"]).standardOutput
        #expect(arkText.contains(PlatformCertificateExtensions.arc) && arkText.contains("Certificate Sign, CRL Sign"))
    }

    @Test("openssl dgst verifies the report signature of versions 2, 3 and 5 with the VCEK and the VLEK")
    func signatureWithOpenSSL() throws {
        let collateral = try Fixture.collateral(tcb)
        let directory = try TestEnvironment.temporaryDirectory("simulated-snp-signature")
        defer { try? FileManager.default.removeItem(at: directory) }
        for key in [SimulatedSNPSigningKey.vcek, .vlek] {
            let certificate = try #require(key == .vcek ? collateral.vcek : collateral.vlek)
            let publicKey = directory.appendingPathComponent("\(key)-pub.pem")
            try certificate.publicKey().pemRepresentation.write(to: publicKey, atomically: true, encoding: .utf8)
            for version: UInt32 in [2, 3, 5] {
                let report = try Fixture.vendor.report(
                    version: version, enclave: Fixture.enclave, tcb: tcb, collateral: collateral, signingKey: key)
                #expect(report.count == 1184)
                let r = Array(report[0x2A0..<0x2A0 + 72].reversed())
                let s = Array(report[0x2A0 + 72..<0x2A0 + 144].reversed())
                let sequence = derInteger(r) + derInteger(s)
                let signature = directory.appendingPathComponent("sig.der")
                let signed = directory.appendingPathComponent("signed.bin")
                try Data([0x30, UInt8(sequence.count)] + sequence).write(to: signature)
                try Data(report[..<0x2A0]).write(to: signed)
                let output = try runTool(
                    "openssl",
                    ["dgst", "-sha384", "-verify", publicKey.path, "-signature", signature.path, signed.path])
                #expect(output.status == 0, "v\(version) \(key): \(output.standardOutput) \(output.standardError)")
            }
        }
    }

    @Test("the fields follow the mapping rules: measurement, report data, host data, ids, policy, TCBs, CPUID, v5")
    func mapping() throws {
        let collateral = try Fixture.collateral(tcb)
        let enclave = Fixture.enclave
        for version: UInt32 in [2, 3, 5] {
            let bytes = try Fixture.vendor.report(
                version: version, enclave: enclave, tcb: tcb, collateral: collateral, signingKey: .vcek)
            let report = try SEVSNPReport(bytes)
            #expect(report.version == version && report.signingKey == .vcek && report.vmpl == 0)
            #expect(report.measurement == enclave.measurement && report.reportData == enclave.reportData)
            #expect(report.hostData == Array(enclave.manifestHash.prefix(32)))
            #expect(report.idKeyDigest == enclave.signer && report.authorKeyDigest == [UInt8](repeating: 0, count: 48))
            #expect(report.familyID == [0x34, 0x12] + [UInt8](repeating: 0, count: 14))
            #expect(report.imageID == [UInt8](repeating: 0, count: 16) && report.guestSVN == 7)
            #expect(report.policy == 0x30000 && report.allowsSMT && !report.allowsDebug && !report.allowsMigrationAgent)
            #expect(report.chipID == SimulatedAMDVendor.hwID(platformID: Fixture.platformID))
            #expect(
                report.chipID == DigestAlgorithm.sha512.hash(Array("cloister-chip-id-v1".utf8) + Fixture.platformID))
            // Bootloader 3, TEE 0, SNP 3, microcode 3 (Milan layout), the same in all four TCB fields.
            let expected: UInt64 = 0x0303_0000_0000_0003
            #expect(report.reportedTCB == expected && report.currentTCB == expected)
            #expect(report.committedTCB == expected && report.launchTCB == expected)
            #expect(report.currentVersion == (1, 55, 3) && report.committedVersion == (1, 55, 3))
            if version >= 3 {
                #expect(report.cpuid.map { [$0.family, $0.model, $0.stepping] } == [0x19, 0x01, 0x01])
            } else {
                #expect(report.cpuid == nil)
            }
            #expect(report.launchMitigationVector == (version >= 5 ? 0b111 : 0))
            #expect(report.currentMitigationVector == (version >= 5 ? 0b111 : 0))
        }
        var debug = enclave
        debug.debug = true
        let debugReport = try SEVSNPReport(
            Fixture.vendor.report(version: 3, enclave: debug, tcb: tcb, collateral: collateral, signingKey: .vcek))
        #expect(debugReport.allowsDebug && debugReport.policy == 0xB0000)
        // Levels above what the SPL extensions hold are clamped: bootloader and SNP to 127, microcode to 255.
        #expect(SimulatedAMDVendor.tcbVersion(SimulatedTCB(level: 300, latestLevel: 300)) == 0xFF7F_0000_0000_007F)
    }

    @Test("Cloister's verifier accepts reports v2, v3, v5 signed by the VCEK and the VLEK, as simulated")
    func verifierAccepts() throws {
        let collateral = try Fixture.collateral(tcb)
        let verifier = EvidenceVerifier(trust: Fixture.trust(collateral))
        for key in [SimulatedSNPSigningKey.vcek, .vlek] {
            for version: UInt32 in [2, 3, 5] {
                let report = try Fixture.vendor.report(
                    version: version, enclave: Fixture.enclave, tcb: tcb, collateral: collateral, signingKey: key)
                let bundle = try Fixture.vendor.evidenceBundle(report: report, collateral: collateral)
                let outcome = verifier.verify(bundle, at: Fixture.now)
                #expect(outcome.format == .snp)
                #expect(failed(outcome).isEmpty, "v\(version) \(key): \(outcome.checks.filter { !$0.passed })")
                #expect(
                    outcome.checks.map(\.name) == [
                        "decode", "endorsement-key", "signature", "certificate-chain", "product-line", "tcb-binding",
                    ])
                let claims = try #require(outcome.claims)
                #expect(claims.simulated == true)
                #expect(claims.measurement == hexEncoded(Fixture.enclave.measurement))
                #expect(claims.reportData == hexEncoded(Fixture.enclave.reportData))
                #expect(claims.debug == false)
                #expect(
                    claims.details.referenceValues["host_data"]
                        == hexEncoded(Array(Fixture.enclave.manifestHash.prefix(32))))
                // The simulated ARK is named as such, never as a pinned AMD root; the policy's `simulated` check speaks
                // for it, not a warning.
                let productLine = try #require(outcome.checks.first { $0.name == "product-line" })
                #expect(productLine.detail.contains("a simulated ARK of Milan"), "\(productLine.detail)")
                #expect(outcome.warnings.isEmpty)
            }
        }
        // The report alone verifies with the VCEK and ASK given as collateral, as `--vcek` gives them.
        let bare = try Fixture.vendor.report(
            version: 5, enclave: Fixture.enclave, tcb: tcb, collateral: collateral, signingKey: .vcek)
        let configured = EvidenceVerifier(
            trust: TrustStore([
                .snp: TrustStore.FormatTrust(
                    roots: [collateral.ark], revocationLists: [collateral.crl],
                    collateral: [collateral.vcekDER, collateral.ask.derRepresentation])
            ]))
        let outcome = configured.verify(bare, at: Fixture.now)
        #expect(failed(outcome).isEmpty, "\(outcome.checks.filter { !$0.passed })")
    }

    @Test("refusals: a flipped byte fails the signature, a revoked platform the chain, another ARK the anchor")
    func verifierRefuses() throws {
        let collateral = try Fixture.collateral(tcb)
        let report = try Fixture.vendor.report(
            version: 3, enclave: Fixture.enclave, tcb: tcb, collateral: collateral, signingKey: .vcek)
        let bundle = try Fixture.vendor.evidenceBundle(report: report, collateral: collateral)
        var flipped = bundle
        flipped[0x90] ^= 1  // the measurement
        #expect(
            failed(EvidenceVerifier(trust: Fixture.trust(collateral)).verify(flipped, at: Fixture.now)) == ["signature"]
        )

        var revokedTCB = tcb
        revokedTCB.isRevoked = true
        let revoked = try Fixture.collateral(revokedTCB)
        #expect(revoked.crl.revokedCertificates.count == 2)
        for key in [SimulatedSNPSigningKey.vcek, .vlek] {
            let revokedReport = try Fixture.vendor.report(
                version: 3, enclave: Fixture.enclave, tcb: revokedTCB, collateral: revoked, signingKey: key)
            let outcome = EvidenceVerifier(trust: Fixture.trust(revoked)).verify(
                try Fixture.vendor.evidenceBundle(report: revokedReport, collateral: revoked), at: Fixture.now)
            #expect(failed(outcome) == ["certificate-chain"], "\(key): \(outcome.checks)")
            let chain = try #require(outcome.checks.first { $0.name == "certificate-chain" })
            #expect(chain.detail.contains("revoked"), "\(chain.detail)")
        }
        // The same evidence, the earlier CRL (nothing revoked) given instead: accepted.
        let unrevoked = try Fixture.vendor.report(
            version: 3, enclave: Fixture.enclave, tcb: revokedTCB, collateral: revoked, signingKey: .vcek)
        let accepted = EvidenceVerifier(
            trust: TrustStore([
                .snp: TrustStore.FormatTrust(roots: [Fixture.vendor.arkCertificate], revocationLists: [collateral.crl])
            ])
        ).verify(try Fixture.vendor.evidenceBundle(report: unrevoked, collateral: revoked), at: Fixture.now)
        #expect(failed(accepted).isEmpty)

        // Another simulated vendor's ARK is not this chain's root.
        let other = try SimulatedAMDVendor.create(
            platformID: [UInt8](repeating: 9, count: 16), productLine: "Milan", rsaBits: 2048, at: Fixture.now)
        let foreign = EvidenceVerifier(
            trust: TrustStore([.snp: TrustStore.FormatTrust(roots: [other.arkCertificate])])
        ).verify(bundle, at: Fixture.now)
        #expect(failed(foreign) == ["certificate-chain"], "\(foreign.checks)")
        // Collateral for another TCB or chip is refused when the report is made.
        #expect(throws: SimulatedHardwareError.self) {
            try Fixture.vendor.report(
                version: 3, enclave: Fixture.enclave, tcb: SimulatedTCB(level: 4, latestLevel: 4),
                collateral: collateral, signingKey: .vcek)
        }
        #expect(throws: SimulatedHardwareError.self) {
            try other.report(
                version: 3, enclave: Fixture.enclave, tcb: tcb, collateral: collateral, signingKey: .vcek)
        }
        #expect(throws: SimulatedHardwareError.self) {
            try Fixture.vendor.report(
                version: 4, enclave: Fixture.enclave, tcb: tcb, collateral: collateral, signingKey: .vcek)
        }
    }

    @Test("policy: simulated evidence is refused unless allow_simulated; debug and measurements as for real reports")
    func policy() throws {
        let collateral = try Fixture.collateral(tcb)
        var enclave = Fixture.enclave
        enclave.debug = true
        let bytes = try Fixture.vendor.evidenceBundle(
            report: Fixture.vendor.report(
                version: 5, enclave: enclave, tcb: tcb, collateral: collateral, signingKey: .vcek),
            collateral: collateral)
        let appraiser = Appraiser(
            evidence: EvidenceVerifier(trust: Fixture.trust(collateral)),
            signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "test"))
        func failing(_ text: String) throws -> [String] {
            appraiser.evaluate(bytes, policy: try Policy(text: text), at: Fixture.now).failures.map(\.name)
        }
        let base = #"id = "snp"\#nmeasurements = ["\#(hexEncoded(enclave.measurement))"]\#n"#
        #expect(try failing(base) == ["debug", "simulated"])
        #expect(try failing(base + "allow_debug = true\n") == ["simulated"])
        #expect(try failing(base + "allow_debug = true\nallow_simulated = true\n").isEmpty)
        #expect(try failing(base + "allow_debug = true\nallow_simulated = true\nmin_guest_svn = 8\n") == ["guest-svn"])
        #expect(
            try failing(base + "allow_debug = true\nallow_simulated = true\n[minimum_tcb]\nsnp = 3\nmicrocode = 3\n")
                .isEmpty)
        #expect(
            try failing(base + "allow_debug = true\nallow_simulated = true\n[minimum_tcb]\nsnp = 4\n") == [
                "minimum-tcb"
            ])
        let result = appraiser.evaluate(
            bytes, policy: try Policy(text: base + "allow_debug = true\nallow_simulated = true\n"), at: Fixture.now)
        #expect(result.claims?.simulated == true)
    }
}
