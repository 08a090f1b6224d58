import Attestation
import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing
import Verifier

@Suite("Appraisal of Cloister quotes under policies")
struct CloisterAppraisalTests {
    let nonce: [UInt8] = [0x01, 0x02]

    @Test("affirmed under the right policy; the EAR carries the status, vector, claims and policy id")
    func affirmed() throws {
        let evidence = try CloisterEvidence()
        let result = try appraiser(evidence.trust()).appraise(
            evidence.quote(), policy: evidence.policy, expectedNonce: nonce, at: Date())
        #expect(result.status == .affirming, "\(result.failures)")
        #expect(result.failures.isEmpty)
        #expect(result.claims?.simulated == true)
        #expect(result.claims?.tcbStatus == .upToDate)
        #expect(
            result.trustworthiness
                == TrustworthinessVector(
                    instanceIdentity: 2, configuration: 2, executables: 2, hardware: 2, runtimeOpaque: 2))
        let names = Set(result.checks.map(\.name))
        #expect(
            names.isSuperset(of: [
                "signature", "certificate-chain", "platform-binding", "tcb-status", "measurement", "signer",
                "product-svn",
                "debug", "simulated", "development-key", "age", "nonce", "tcb-status-accepted", "isolation",
            ]))
        #expect(result.token?.split(separator: ".").count == 3)
    }

    @Test("tamper matrix: every byte of a quote, flipped one bit at a time, is refused with the failing checks named")
    func tamperMatrix() throws {
        let evidence = try CloisterEvidence()
        let time = Date()
        let quote = try evidence.quote(at: time)
        let verifier = EvidenceVerifier(trust: try evidence.trust())
        try #require(verifier.verify(quote, format: .cloister, at: time).passed)
        expectTamperMatrixRefused("Cloister quote", quote) { verifier.verify($0, format: .cloister, at: time) }
    }

    /// One way to make exactly one check fail, and the check that must fail.
    struct Failure: Sendable, CustomStringConvertible {
        let check: String
        let description: String
        let change: @Sendable (inout Policy, inout CloisterEvidence.Variation) -> Void
    }

    static let failures: [Failure] = [
        Failure(check: "measurement", description: "another measurement") { policy, _ in
            policy.measurements = [String(repeating: "ab", count: 48)]
        },
        Failure(check: "signer", description: "another signer") { policy, _ in
            policy.signers = [String(repeating: "cd", count: 48)]
        },
        Failure(check: "product-svn", description: "SVN below the minimum") { policy, _ in
            policy.products = [.init(productID: 7, minimumSVN: 4)]
        },
        Failure(check: "debug", description: "a debug enclave") { _, variation in variation.debug = true },
        Failure(check: "simulated", description: "simulation not allowed") { policy, _ in policy.allowSimulated = false
        },
        Failure(check: "development-key", description: "development key not allowed") { policy, _ in
            policy.allowDevelopmentKeys = false
        },
        Failure(check: "age", description: "a quote older than the maximum age") { _, variation in
            variation.age = 600
        },
        Failure(check: "nonce", description: "another nonce") { _, variation in variation.nonce = [0x09] },
        Failure(check: "certificate-chain", description: "a revoked platform") { _, variation in
            variation.revoked = true
        },
        Failure(check: "tcb-status-accepted", description: "an out-of-date TCB level") { _, variation in
            variation.outdated = true
        },
        Failure(check: "isolation", description: "a required mechanism missing") { policy, _ in
            policy.requiredIsolation.append("locked-regions")
        },
    ]

    @Test("each policy check failing on its own yields contraindicated with that reason", arguments: failures)
    func singleFailure(failure: Failure) throws {
        var policy = try CloisterEvidence().policy
        var variation = CloisterEvidence.Variation()
        failure.change(&policy, &variation)
        let evidence = try CloisterEvidence(debug: variation.debug)
        let quote = try evidence.quote(nonce: variation.nonce, at: Date() - variation.age)
        if variation.revoked { try Platform.revoke(home: evidence.home) }
        if variation.outdated { try Platform.setTCBLevel(2, home: evidence.home) }
        let result = try appraiser(evidence.trust()).appraise(
            quote, policy: policy, expectedNonce: nonce, at: Date())
        #expect(result.status == .contraindicated)
        #expect(result.failures.map(\.name) == [failure.check], "\(result.failures)")
    }

    @Test("an out-of-date TCB level accepted by the policy gives a warning, not affirming")
    func outdatedAccepted() throws {
        let evidence = try CloisterEvidence()
        let quote = try evidence.quote()
        try Platform.setTCBLevel(2, home: evidence.home)
        var policy = evidence.policy
        policy.acceptableTCBStatuses = [.upToDate, .outOfDate]
        let result = try appraiser(evidence.trust()).appraise(quote, policy: policy, expectedNonce: nonce, at: Date())
        #expect(result.status == .warning)
        #expect(result.trustworthiness.hardware == 32)
    }

    @Test("a cached appraiser gives the same verdicts, and a revoked platform is refused despite the cache")
    func cachedVerdicts() throws {
        let evidence = try CloisterEvidence()
        let cache = EvidenceCache()
        let quote = try evidence.quote()
        let cached = Appraiser(
            evidence: EvidenceVerifier(trust: try evidence.trust(), cache: cache), signer: testSigner)
        for _ in 0..<3 {
            #expect(
                cached.evaluate(quote, policy: evidence.policy, expectedNonce: nonce, at: Date()).status == .affirming)
        }
        try Platform.revoke(home: evidence.home)
        let afterRevocation = Appraiser(
            evidence: EvidenceVerifier(trust: try evidence.trust(), cache: cache), signer: testSigner)
        let result = afterRevocation.evaluate(quote, policy: evidence.policy, expectedNonce: nonce, at: Date())
        #expect(result.failures.map(\.name) == ["certificate-chain"])
        #expect(result.token == nil)
        let expired = cached.evaluate(
            quote, policy: evidence.policy, expectedNonce: nonce,
            at: evidence.platform.attestationCertificate.notValidAfter + 1)
        #expect(expired.failures.map(\.name).contains("certificate-chain"))
    }

    /// `document` signed by the platform's attestation key (as a compromised platform could).
    private func resigned(_ document: AttestationDocument, by evidence: CloisterEvidence) throws -> [UInt8] {
        let key = try ECPrivateKey(
            pemRepresentation: String(contentsOfFile: try evidence.home.path(of: .attestationKey), encoding: .utf8))
        return try COSESign1(signing: document.encoded(), with: key).encoded()
    }

    @Test("claims that contradict the platform certificate fail platform-binding")
    func platformBinding() throws {
        let evidence = try CloisterEvidence()
        var document = try SignedAttestationDocument(encoded: evidence.quote()).document
        document.cloister?.tcbLevel = 7
        let result = try appraiser(evidence.trust()).appraise(
            resigned(document, by: evidence), policy: evidence.policy, expectedNonce: nonce, at: Date())
        #expect(result.status == .contraindicated)
        #expect(result.failures.map(\.name).contains("platform-binding"))
        #expect(!result.failures.map(\.name).contains("signature"))
    }

    @Test("a Nitro-shaped document whose PCRs are not SHA-384 fails the digest check")
    func nitroDigest() throws {
        let pki = try NitroLikePKI()
        let document = try pki.document(measurement: [UInt8](repeating: 0x4d, count: 32), digest: "SHA256")
        let result = try appraiser(TrustStore(nitroRoots: [pki.root.certificate])).appraise(
            document, policy: Policy(id: "nitro", measurements: [String(repeating: "4d", count: 32)]), at: Date())
        #expect(result.format == .nitro)
        #expect(result.failures.map(\.name) == ["digest"])
    }

    @Test("a Nitro document that verifies under a root that is not AWS's is a warning, never affirming")
    func nitroUnderOtherRoot() throws {
        let pki = try NitroLikePKI()
        let measurement = [UInt8](repeating: 0x4e, count: 48)
        let policy = Policy(id: "nitro", measurements: [hexString(measurement)])
        let result = try appraiser(TrustStore(nitroRoots: [pki.root.certificate])).appraise(
            pki.document(measurement: measurement), policy: policy, at: Date())
        #expect(result.failures.isEmpty, "\(result.failures)")
        #expect(result.status == .warning)
        #expect(result.trustworthiness.hardware == 32)
        #expect(result.claims?.simulated == false)
        #expect(result.warnings.count == 1)
        #expect(result.warnings.first?.contains(TrustStore.awsNitroRootG1Fingerprint) == true)
        // Another configured root that is not AWS's draws no warning for evidence that does not chain to it.
        let other = try NitroLikePKI()
        let both = TrustStore(nitroRoots: [pki.root.certificate, other.root.certificate])
        #expect(
            try appraiser(both).appraise(pki.document(measurement: measurement), policy: policy, at: Date())
                .warnings.count == 1)
    }

    @Test("a Nitro document whose leaf a CRL in the format's trust revokes fails the chain; without the CRL it passes")
    func nitroRevocationList() throws {
        let pki = try NitroLikePKI()
        let measurement = [UInt8](repeating: 0x4e, count: 48)
        let policy = Policy(id: "nitro", measurements: [hexString(measurement)])
        var trust = TrustStore(nitroRoots: [pki.root.certificate])
        let document = try pki.document(measurement: measurement)
        #expect(try appraiser(trust).appraise(document, policy: policy, at: Date()).failures.isEmpty)
        trust[.nitro].revocationLists = [
            try pki.root.issueCRL(
                number: 1, thisUpdate: Date() - 60, nextUpdate: Date() + 3600,
                revoked: [RevokedCertificate(serialNumber: pki.leaf.serialNumber, revocationDate: Date() - 30)])
        ]
        let result = try appraiser(trust).appraise(document, policy: policy, at: Date())
        #expect(result.failures.map(\.name) == ["certificate-chain"])
        #expect(result.trustworthiness.instanceIdentity == 99)
    }

    @Test("a quote claiming simulated = false is simulated all the same, and its false claim fails platform-binding")
    func simulatedClaimIgnored() throws {
        let evidence = try CloisterEvidence()
        var document = try SignedAttestationDocument(encoded: evidence.quote()).document
        document.cloister?.simulated = false
        let quote = try resigned(document, by: evidence)
        var strict = evidence.policy
        strict.allowSimulated = false
        let refused = try appraiser(evidence.trust()).appraise(quote, policy: strict, expectedNonce: nonce, at: Date())
        #expect(refused.status == .contraindicated)
        #expect(refused.claims?.simulated == true)
        #expect(refused.failures.map(\.name) == ["platform-binding", "simulated"])
        let allowed = try appraiser(evidence.trust()).appraise(
            quote, policy: evidence.policy, expectedNonce: nonce, at: Date())
        #expect(allowed.failures.map(\.name) == ["platform-binding"])
        #expect(allowed.failures.first?.detail.contains("simulated = false") == true)
    }

    /// How a verifier may be configured with a Cloister platform's root.
    enum RootConfiguration: String, CaseIterable, Sendable, CustomStringConvertible {
        case cloister = "as a Cloister root (verify --home, serve)"
        case nitro = "as a Nitro root (verify --trust-anchor)"
        case both = "as both"

        var description: String { rawValue }

        func trust(_ evidence: CloisterEvidence) throws -> TrustStore {
            var trust = self == .nitro ? TrustStore() : try evidence.trust()
            if self != .cloister { trust.nitroRoots = [evidence.platform.rootCertificate] }
            return trust
        }
    }

    @Test(
        "a Cloister-rooted document without cloister claims fails cloister-claims, simulation allowed or not",
        arguments: RootConfiguration.allCases)
    func cloisterRootedWithoutClaims(configuration: RootConfiguration) throws {
        let evidence = try CloisterEvidence()
        var document = try SignedAttestationDocument(encoded: evidence.quote()).document
        document.cloister = nil
        let policy = Policy(
            id: "simulation-allowed", measurements: [hexString(evidence.record.identity.measurement)],
            signers: [hexString(evidence.record.identity.signer)], allowSimulated: true, allowDevelopmentKeys: true)
        let result = try appraiser(configuration.trust(evidence)).appraise(
            resigned(document, by: evidence), policy: policy, at: Date())
        #expect(result.format == .nitro)
        #expect(result.status == .contraindicated)
        #expect(result.claims?.simulated == true)
        #expect(result.failures.map(\.name).contains("cloister-claims"), "\(result.failures)")
        #expect(
            result.failures.allSatisfy { ["cloister-claims", "trust-anchor"].contains($0.name) }, "\(result.failures)")
        #expect(result.warnings.isEmpty)
    }

    @Test("a policy without max_age_seconds refuses a quote older than five minutes; \"unlimited\" accepts it")
    func defaultMaximumAge() throws {
        let evidence = try CloisterEvidence()
        let quote = try evidence.quote(at: Date() - 600)
        var policy = evidence.policy
        policy.maximumAgeSeconds = Policy.defaultMaximumAgeSeconds
        let old = try appraiser(evidence.trust()).appraise(quote, policy: policy, expectedNonce: nonce, at: Date())
        #expect(old.failures.map(\.name) == ["age"])
        #expect(old.failures.first?.detail.contains("older than 300 s") == true)
        let fromText = try Policy(
            text: """
                id = "t"
                measurements = ["\(hexString(evidence.record.identity.measurement))"]
                allow_simulated = true
                allow_development_keys = true
                """)
        #expect(
            try appraiser(evidence.trust()).appraise(quote, policy: fromText, at: Date()).failures.map(\.name) == [
                "age"
            ])
        policy.maximumAgeSeconds = nil
        let unlimited = try appraiser(evidence.trust()).appraise(
            quote, policy: policy, expectedNonce: nonce, at: Date())
        #expect(unlimited.status == .affirming, "\(unlimited.failures)")
        #expect(unlimited.checks.first { $0.name == "age" }?.detail.hasPrefix("not required") == true)
    }

    @Test("every policy check is listed, the ones the policy turns off passing as \"not required\"")
    func everyCheckListed() throws {
        let evidence = try CloisterEvidence()
        let policy = Policy(
            id: "lean", measurements: [hexString(evidence.record.identity.measurement)], allowSimulated: true,
            allowDevelopmentKeys: true, maximumAgeSeconds: nil)
        let result = try appraiser(evidence.trust()).appraise(evidence.quote(nonce: nil), policy: policy, at: Date())
        #expect(result.status == .affirming, "\(result.failures)")
        let policyChecks = [
            "reference-values", "measurement", "signer", "product-svn", "debug", "td-attributes", "simulated",
            "development-key", "age", "nonce", "tcb-status-accepted", "advisories", "guest-svn", "minimum-tcb", "vmpl",
            "migration-agent", "isolation",
        ]
        #expect(result.checks.map(\.name).suffix(policyChecks.count) == ArraySlice(policyChecks))
        let notRequired = result.checks.filter { $0.detail.hasPrefix("not required") }.map(\.name)
        #expect(
            notRequired == [
                "signer", "product-svn", "td-attributes", "age", "nonce", "guest-svn", "minimum-tcb", "vmpl",
                "migration-agent", "isolation",
            ])
    }

    @Test("a policy without reference values trusts nothing")
    func emptyPolicy() throws {
        let evidence = try CloisterEvidence()
        let result = try appraiser(evidence.trust()).appraise(
            evidence.quote(), policy: Policy(id: "empty", allowSimulated: true, allowDevelopmentKeys: true), at: Date())
        #expect(result.status == .contraindicated)
        #expect(result.failures.map(\.name) == ["reference-values"])
    }

    @Test("a quote asked for as Nitro fails the format check; garbage fails decoding")
    func formatAndGarbage() throws {
        let evidence = try CloisterEvidence()
        let wrongFormat = try appraiser(evidence.trust()).appraise(
            evidence.quote(), format: .nitro, policy: evidence.policy, expectedNonce: nonce, at: Date())
        #expect(wrongFormat.failures.map(\.name).contains("format"))
        let garbage = try appraiser(evidence.trust()).appraise([0xff, 0x00], policy: evidence.policy, at: Date())
        #expect(garbage.status == .contraindicated)
        #expect(garbage.failures.map(\.name) == ["decode"])
        #expect(garbage.claims == nil)
    }

    @Test(
        "PyJWT verifies the EAR against the published JWK set; a token signed by another key does not verify",
        .enabled(if: TestEnvironment.python != nil, "needs the interop venv (make test creates it)"))
    func earInterop() throws {
        let evidence = try CloisterEvidence()
        let result = try appraiser(evidence.trust()).appraise(
            evidence.quote(), policy: evidence.policy, expectedNonce: nonce, at: Date())
        let directory = try TestEnvironment.temporaryDirectory("ear")
        let jwks = directory.appendingPathComponent("jwks.json")
        try Data(testSigner.jwks).write(to: jwks)
        let python = try #require(TestEnvironment.python)
        let script = TestEnvironment.interopScript("verify_ear.py")
        let verified = try runTool(python, [script, "--token", try #require(result.token), "--jwks", jwks.path])
        #expect(verified.status == 0, "\(verified.standardOutput)\(verified.standardError)")
        let payload = try JSONSerialization.jsonObject(with: Data(verified.standardOutput.utf8)) as? [String: Any]
        let submodule = (payload?["submods"] as? [String: Any])?["cloister"] as? [String: Any]
        #expect(submodule?["ear.status"] as? String == "affirming")
        #expect(submodule?["ear.appraisal-policy-id"] as? String == "cloister-test")
        #expect(payload?["iat"] as? Int != nil)
        let other = try ResultSigner(key: ECPrivateKey(generating: .p256), build: "impostor")
        let forged = try Appraiser(evidence: EvidenceVerifier(trust: evidence.trust()), signer: other).appraise(
            evidence.quote(), policy: evidence.policy, expectedNonce: nonce, at: Date())
        let refused = try runTool(python, [script, "--token", try #require(forged.token), "--jwks", jwks.path])
        #expect(refused.status == 1)
    }
}

extension CloisterEvidence {
    /// How a single-failure test changes the evidence rather than the policy.
    struct Variation {
        var debug = false
        var age: TimeInterval = 0
        var nonce: [UInt8] = [0x01, 0x02]
        var revoked = false
        var outdated = false
    }
}
