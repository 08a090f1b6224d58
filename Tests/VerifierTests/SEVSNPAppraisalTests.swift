import CloisterCrypto
import CloisterTestSupport
import Foundation
import SimulatedHardware
import Testing
import Verifier

@testable import Attestation

/// The two reports, the VCEK that signed each, and a time inside the VCEK's validity (the vectors' README).
private let reports: [(report: String, vcek: String, time: Date)] = [
    ("snp/attestation.bin", "snp/vcek.testcer", Date(timeIntervalSince1970: 1_704_067_200)),
    ("snp/trustee-milan-report.bin", "snp/trustee-milan-vcek.der", Date(timeIntervalSince1970: 1_748_736_000)),
]

/// AMD's certificates for `product` ("milan", "genoa", "turin"): ASK, ARK and ASVK.
private func vendorChain(_ product: String) throws -> [X509Certificate] {
    try X509Certificate.certificates(
        fromPEM: String(decoding: vectorBytes("snp/\(product)_ask_ark_asvk.pem"), as: UTF8.self))
}

/// Trust as `cloister verify --trust-anchor PRODUCT.pem --vcek VCEK...` builds it: the ARK as the root, the ASK, ASVK
/// and the VCEKs as certificates the chain may use.
private func trust(_ product: String = "milan", vceks: [String]) throws -> TrustStore {
    TrustStore([.snp: .sevSNP(vendorChain: try vendorChain(product), endorsementKeys: try vceks.map(vectorBytes))])
}

/// An extended report: `report` followed by a certificate table holding `certificates` (GUID, DER).
private func extendedReport(_ report: [UInt8], _ certificates: [(SEVSNPEvidence.CertificateRole, [UInt8])]) -> [UInt8] {
    report + SimulatedAMDVendor.certificateTable(certificates)
}

private func failed(_ outcome: EvidenceVerifier.Outcome) -> [String] {
    outcome.checks.filter { !$0.passed }.map(\.name)
}

@Suite("AMD SEV-SNP reports appraised: the VCEK chain to a pinned ARK, the TCB binding, the claims and the policy")
struct SEVSNPAppraisalTests {
    @Test(
        "tamper matrix: every byte of each report, flipped one bit at a time, is refused with the failing checks named")
    func tamperMatrix() throws {
        for vector in reports {
            let report = try vectorBytes(vector.report)
            let verifier = EvidenceVerifier(trust: try trust(vceks: [vector.vcek]))
            expectTamperMatrixRefused(vector.report, report) { verifier.verify($0, at: vector.time) }
        }
    }

    @Test("the ARKs in the vectors are the ones pinned")
    func pinnedARKs() throws {
        for (product, line) in [("milan", "Milan"), ("genoa", "Genoa"), ("turin", "Turin")] {
            let ark = try #require(try vendorChain(product).first { $0.isSelfSigned })
            #expect(hexEncoded(ark.sha256Fingerprint) == TrustStore.amdARKFingerprints[line])
        }
    }

    @Test("both reports verify under the Milan chain with their VCEKs, every check named")
    func vectors() throws {
        for vector in reports {
            let outcome = EvidenceVerifier(trust: try trust(vceks: [vector.vcek]))
                .verify(try vectorBytes(vector.report), at: vector.time)
            #expect(outcome.format == .snp)
            #expect(failed(outcome).isEmpty, "\(vector.report): \(outcome.checks.filter { !$0.passed })")
            #expect(
                outcome.checks.map(\.name) == [
                    "decode", "endorsement-key", "signature", "certificate-chain", "product-line", "tcb-binding",
                ])
            #expect(outcome.warnings.isEmpty)
            let report = try SEVSNPReport(vectorBytes(vector.report))
            let claims = try #require(outcome.claims)
            #expect(claims.measurement == hexEncoded(report.measurement) && claims.debug == report.allowsDebug)
            #expect(claims.reportData == hexEncoded(report.reportData) && claims.timestamp == nil)
            #expect(claims.details.referenceValues["host_data"] == hexEncoded(report.hostData))
        }
    }

    @Test("an extended report carries its VCEK, ASK and ARK: only the ARK needs pinning")
    func extendedReports() throws {
        let vector = reports[1]
        let chain = try vendorChain("milan")
        let ask = try #require(chain.first { $0.description.contains("CN=SEV-Milan") })
        let ark = try #require(chain.first { $0.isSelfSigned })
        let bytes = extendedReport(
            try vectorBytes(vector.report),
            [(.vcek, try vectorBytes(vector.vcek)), (.ask, ask.derRepresentation), (.ark, ark.derRepresentation)])
        let onlyARK = TrustStore([.snp: TrustStore.FormatTrust(roots: [ark])])
        let outcome = EvidenceVerifier(trust: onlyARK).verify(bytes, at: vector.time)
        #expect(failed(outcome).isEmpty, "\(outcome.checks.filter { !$0.passed })")
        #expect(outcome.checks.first?.detail.contains("with 3 certificates") == true)
        // The other report's VCEK in the table: made for another chip at another TCB.
        let wrong = extendedReport(try vectorBytes(vector.report), [(.vcek, try vectorBytes(reports[0].vcek))])
        let refused = EvidenceVerifier(trust: try trust(vceks: [])).verify(wrong, at: vector.time)
        #expect(failed(refused) == ["signature", "tcb-binding"], "\(refused.checks)")
        var outside = extendedReport(try vectorBytes(vector.report), [(.vcek, try vectorBytes(vector.vcek))])
        outside[SEVSNPReportHeader.byteCount + 16] = 0xff  // the entry's offset, past the table
        let malformed = EvidenceVerifier(trust: onlyARK).verify(outside, at: vector.time)
        #expect(malformed.refusal?.code == .malformedEvidence)
        #expect(
            malformed.refusal?.reason.contains("entry 1 points at bytes") == true, "\(malformed.refusal?.reason ?? "")")
    }

    @Test("a certificate table of more than 64 entries, cut short, or listing a role twice is refused, named")
    func certificateTableRefusals() throws {
        let vector = reports[1]
        let report = try vectorBytes(vector.report)
        let vcek = try vectorBytes(vector.vcek)
        let verifier = EvidenceVerifier(trust: try trust(vceks: [vector.vcek]))
        /// An entry of an unknown GUID (every byte `guid`) at offset 0 and length 0.
        func entry(_ guid: Int) -> [UInt8] {
            [UInt8](repeating: UInt8(guid), count: 16) + [UInt8](repeating: 0, count: 8)
        }
        let end = [UInt8](repeating: 0, count: 24)
        let cases: [(reason: String, bytes: [UInt8])] = [
            ("its table has more than 64 entries", report + (1...65).flatMap(entry) + end),
            // Sixty-four are read (the first then points inside its own header).
            ("entry 1 points at bytes 0..<0", report + (1...64).flatMap(entry) + end),
            (
                "its table ends at byte 30 inside entry 2, before the zero entry",
                report + entry(1) + [0, 0, 0, 0, 0, 0]
            ),
            ("its table lists the vcek twice", extendedReport(report, [(.vcek, vcek), (.vcek, vcek)])),
        ]
        for (reason, bytes) in cases {
            let outcome = verifier.verify(bytes, at: vector.time)
            #expect(outcome.refusal?.code == .malformedEvidence, "\(reason)")
            #expect(outcome.refusal?.reason.contains(reason) == true, "\(reason): \(outcome.refusal?.reason ?? "")")
        }
    }

    @Test("each check fails alone: the signed bytes, a VCEK that does not verify, another product line, a late time")
    func negatives() throws {
        let vector = reports[1]
        let bytes = try vectorBytes(vector.report)
        let verifier = EvidenceVerifier(trust: try trust(vceks: [vector.vcek]))
        var changed = bytes
        changed[0x90] ^= 1  // the measurement
        #expect(failed(verifier.verify(changed, at: vector.time)) == ["signature"])
        // Trustee's VCEKs whose signature does not verify under the Milan ASK, carried in the evidence.
        for wrong in ["snp/trustee-milan-vcek-wrong-signature-1.der", "snp/trustee-milan-vcek-wrong-signature-2.der"] {
            let outcome = EvidenceVerifier(trust: try trust(vceks: []))
                .verify(extendedReport(bytes, [(.vcek, try vectorBytes(wrong))]), at: vector.time)
            #expect(failed(outcome).contains("certificate-chain"), "\(wrong): \(outcome.checks)")
        }
        for product in ["genoa", "turin"] {
            let outcome = EvidenceVerifier(trust: try trust(product, vceks: [vector.vcek])).verify(
                bytes, at: vector.time)
            #expect(failed(outcome) == ["certificate-chain"], "\(product): \(outcome.checks)")
        }
        let vcek = try X509Certificate(derRepresentation: vectorBytes(vector.vcek))
        #expect(failed(verifier.verify(bytes, at: vcek.notValidAfter + 1)) == ["certificate-chain"])
        #expect(failed(verifier.verify(bytes, at: vcek.notValidAfter)).isEmpty)
        let noVCEK = EvidenceVerifier(trust: try trust(vceks: [reports[0].vcek])).verify(bytes, at: vector.time)
        #expect(failed(noVCEK) == ["endorsement-key", "signature"])
        let noRoot = EvidenceVerifier(
            trust: TrustStore([.snp: TrustStore.FormatTrust(collateral: [try vectorBytes(vector.vcek)])])
        )
        .verify(bytes, at: vector.time)
        #expect(failed(noRoot) == ["trust-anchor"])
    }

    @Test("product-line: the Milan VCEK fails under Genoa's or Turin's pinned ARK, passes under an unpinned ARK-Milan")
    func productLine() throws {
        let extensions = try AMDEndorsementKeyExtensions(
            of: X509Certificate(derRepresentation: vectorBytes(reports[1].vcek)))
        for (product, passes) in [("milan", true), ("genoa", false), ("turin", false)] {
            let ark = try #require(try vendorChain(product).first { $0.isSelfSigned })
            let (check, warning) = SEVSNPReportVerifier.productLineCheck(anchor: ark, endorsementKey: extensions)
            #expect(check.passed == passes && warning == nil, "\(product): \(check.detail)")
        }
        for (name, passes) in [("ARK-Milan", true), ("ARK-Genoa", false)] {
            let profile = CertificateProfile(
                subject: DistinguishedName(["CN": name]), notValidBefore: Date(timeIntervalSince1970: 0),
                notValidAfter: Date(timeIntervalSince1970: 4_000_000_000), isCertificateAuthority: true,
                keyUsage: [.keyCertSign])
            let root = try CertificateAuthority.selfSigned(profile, privateKey: ECPrivateKey(generating: .p256))
            let (check, warning) = SEVSNPReportVerifier.productLineCheck(
                anchor: root.certificate, endorsementKey: extensions)
            #expect(check.passed == passes && warning?.contains("not one of AMD's published ARKs") == true, "\(name)")
        }
    }

    @Test("policy: debug refused by default, the [claims] table, and the report-data binding")
    func policy() throws {
        let vector = reports[1]
        let bytes = try vectorBytes(vector.report)
        let report = try SEVSNPReport(bytes)
        let appraiser = Appraiser(
            evidence: EvidenceVerifier(trust: try trust(vceks: [vector.vcek])),
            signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "test"))
        func failing(_ text: String, nonce: [UInt8]? = nil) throws -> [String] {
            appraiser.evaluate(bytes, policy: try Policy(text: text), expectedNonce: nonce, at: vector.time)
                .failures.map(\.name)
        }
        let base = #"id = "snp"\#nmeasurements = ["\#(hexEncoded(report.measurement))"]\#n"#
        #expect(try failing(base) == (report.allowsDebug ? ["debug"] : []))
        #expect(try failing(base + "[claims]\nhost_data = [\"\(hexEncoded(report.hostData))\"]\n").count <= 1)
        #expect(try failing(base + "allow_debug = true\n[claims]\nhost_data = [\"00\"]\n") == ["claim-host_data"])
        #expect(try failing(base + "allow_debug = true\n", nonce: report.reportData).isEmpty)
        #expect(try failing(base + "allow_debug = true\n", nonce: [1]) == ["nonce"])
        // The report: guest SVN 4, VMPL 0, reported TCB bootloader 3, TEE 0, SNP 8, microcode 115.
        #expect(try failing(base + "min_guest_svn = 4\nrequired_vmpl = 0\n").isEmpty)
        #expect(try failing(base + "min_guest_svn = 5\n") == ["guest-svn"])
        #expect(try failing(base + "required_vmpl = 1\n") == ["vmpl"])
        #expect(try failing(base + "[minimum_tcb]\nbootloader = 3\nsnp = 8\nmicrocode = 115\n").isEmpty)
        #expect(try failing(base + "[minimum_tcb]\nmicrocode = 116\n") == ["minimum-tcb"])
        #expect(throws: PolicyError.self) { try Policy(text: base + "required_vmpl = 4\n") }
        #expect(throws: PolicyError.self) { try Policy(text: base + "[minimum_tcb]\nspl4 = 1\n") }
        #expect(throws: PolicyError.self) { try Policy(text: base + "[minimum_tcb]\nsnp = 256\n") }
        let checks = appraiser.evaluate(bytes, policy: try Policy(text: base), at: vector.time).checks
        #expect(checks.first { $0.name == "migration-agent" }?.detail == "no migration agent")
        // The policy stage reads the claims even when the evidence fails: a report whose guest policy allows a
        // migration agent (bit 18; its signature then fails too) fails migration-agent unless the policy allows one.
        var withAgent = bytes
        withAgent[0x0A] |= 0x04
        let refused = appraiser.evaluate(withAgent, policy: try Policy(text: base), at: vector.time).failures.map(
            \.name)
        #expect(refused == ["signature", "migration-agent"], "\(refused)")
        let allowed = appraiser.evaluate(
            withAgent, policy: try Policy(text: base + "allow_migration_agent = true\n"), at: vector.time)
        #expect(allowed.failures.map(\.name) == ["signature"])
        // The go-sev-guest report's guest policy allows debugging (bit 19): refused unless the policy allows debug.
        let debugReport = try vectorBytes(reports[0].report)
        let debugAppraiser = Appraiser(
            evidence: EvidenceVerifier(trust: try trust(vceks: [reports[0].vcek])),
            signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "test"))
        let measurement = hexEncoded(try SEVSNPReport(debugReport).measurement)
        let debugPolicy = #"id = "snp"\#nmeasurements = ["\#(measurement)"]\#n"#
        #expect(
            debugAppraiser.evaluate(debugReport, policy: try Policy(text: debugPolicy), at: reports[0].time)
                .failures.map(\.name) == ["debug"])
        #expect(
            debugAppraiser.evaluate(
                debugReport, policy: try Policy(text: debugPolicy + "allow_debug = true\n"), at: reports[0].time
            ).failures.isEmpty)
    }
}
