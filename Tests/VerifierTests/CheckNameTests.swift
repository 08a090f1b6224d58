import Attestation
import CloisterTestSupport
import EnclavePlatform
import Foundation
import Testing
import Verifier

@Suite("Checks as values: every check's name carries its AR4SI aspect")
struct CheckNameTests {
    /// Every check an appraisal makes, with its name on the wire, the aspect it decides and whether its failure
    /// means the cryptography did not hold: the sorting the appraiser did by name before checks were typed.
    static let table: [(CheckName, String, TrustworthinessAspect, Bool)] = [
        (.decode, "decode", .instanceIdentity, true), (.format, "format", .instanceIdentity, false),
        (.signature, "signature", .instanceIdentity, true), (.trustAnchor, "trust-anchor", .instanceIdentity, true),
        (.certificateChain, "certificate-chain", .instanceIdentity, true),
        (.platformBinding, "platform-binding", .hardware, false), (.tcbStatus, "tcb-status", .hardware, false),
        (.cloisterClaims, "cloister-claims", .hardware, false), (.digest, "digest", .instanceIdentity, false),
        (.referenceValues, "reference-values", .executables, false),
        (.measurement, "measurement", .executables, false), (.pcr("3"), "pcr-3", .executables, false),
        (.signer, "signer", .executables, false), (.productSVN, "product-svn", .executables, false),
        (.developmentKey, "development-key", .executables, false), (.debug, "debug", .configuration, false),
        (.simulated, "simulated", .hardware, false), (.age, "age", .instanceIdentity, false),
        (.nonce, "nonce", .instanceIdentity, false), (.tcbStatusAccepted, "tcb-status-accepted", .hardware, false),
        (.isolation, "isolation", .runtimeOpaque, false), (.advisories, "advisories", .hardware, false),
        (.tdAttributes, "td-attributes", .configuration, false),
        (.guestSVN, "guest-svn", .executables, false), (.minimumTCB, "minimum-tcb", .hardware, false),
        (.vmpl, "vmpl", .runtimeOpaque, false), (.migrationAgent, "migration-agent", .configuration, false),
        (.endorsementKey, "endorsement-key", .instanceIdentity, true), (.tcbBinding, "tcb-binding", .hardware, false),
        (.productLine, "product-line", .hardware, false),
        (.claim("mr_td"), "claim-mr_td", .executables, false),
        (.qeReportSignature, "qe-report-signature", .instanceIdentity, true),
        (.attestationKeyBinding, "attestation-key-binding", .instanceIdentity, true),
        (.pckExtensions, "pck-extensions", .hardware, true), (.collateral, "collateral", .hardware, false),
        (.tcbInfoSignature, "tcb-info-signature", .hardware, true),
        (.qeIdentitySignature, "qe-identity-signature", .hardware, true),
        (.revocationLists, "revocation-lists", .hardware, true),
        (.collateralCurrent, "collateral-current", .hardware, false),
        (.tcbInfoPlatform, "tcb-info-platform", .hardware, false), (.qeIdentity, "qe-identity", .hardware, false),
        (.tdxModule, "tdx-module", .hardware, false), (.tcbLevel, "tcb-level", .hardware, false),
    ]

    @Test("names on the wire, aspects and cryptographic failures are what the appraisal always used")
    func names() {
        for (check, name, aspect, isCryptographic) in Self.table {
            #expect(check.rawValue == name)
            #expect(check.aspect == aspect, "\(name)")
            #expect(check.isCryptographic == isCryptographic, "\(name)")
        }
        #expect(Set(Self.table.map(\.1)).count == Self.table.count)
    }

    @Test("every check of real appraisals is a declared one")
    func appraisalsUseDeclaredChecks() throws {
        let evidence = try CloisterEvidence()
        var policy = evidence.policy
        policy.pcrs = ["3": [String(repeating: "00", count: 48)]]
        let cloister = try appraiser(evidence.trust()).evaluate(
            evidence.quote(), policy: policy, expectedNonce: [1, 2], at: Date())
        let vector = NitroVector.all[0]
        let nitro = try appraiser(TrustStore(nitroRoots: [NitroVector.awsRoot()])).evaluate(
            vector.bytes(), format: .nitro, policy: vector.policy(allowDebug: false), at: vector.time)
        let declared = Dictionary(uniqueKeysWithValues: Self.table.map { ($0.0.rawValue, $0.0) })
        for check in cloister.checks + nitro.checks {
            #expect(declared[check.name] == check.kind, "\(check.name)")
        }
        #expect(cloister.failures.map(\.name) == ["pcr-3"])
        #expect(nitro.failures.isEmpty, "\(nitro.failures)")
    }

    @Test(
        "a failing check raises exactly its own aspect: 96, or 99 for broken cryptography",
        arguments: CloisterAppraisalTests.failures)
    func failureRaisesItsAspect(failure: CloisterAppraisalTests.Failure) throws {
        var policy = try CloisterEvidence().policy
        var variation = CloisterEvidence.Variation()
        failure.change(&policy, &variation)
        let evidence = try CloisterEvidence(debug: variation.debug)
        let quote = try evidence.quote(nonce: variation.nonce, at: Date() - variation.age)
        if variation.revoked { try Platform.revoke(home: evidence.home) }
        if variation.outdated { try Platform.setTCBLevel(2, home: evidence.home) }
        let result = try appraiser(evidence.trust()).evaluate(quote, policy: policy, expectedNonce: [1, 2], at: Date())
        let failed = try #require(result.failures.first?.kind)
        let tiers: [TrustworthinessAspect: Int] = [
            .instanceIdentity: result.trustworthiness.instanceIdentity,
            .configuration: result.trustworthiness.configuration, .executables: result.trustworthiness.executables,
            .hardware: result.trustworthiness.hardware, .runtimeOpaque: result.trustworthiness.runtimeOpaque,
        ]
        for aspect in TrustworthinessAspect.allCases {
            let expected = aspect == failed.aspect ? (failed.isCryptographic ? 99 : 96) : 2
            #expect(tiers[aspect] == expected, "\(failure.check): \(aspect)")
        }
    }
}
