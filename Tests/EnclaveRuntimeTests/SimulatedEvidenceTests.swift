import Attestation
import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import SimulatedHardware
import Testing
import Verifier

/// A record of an enclave never launched, quoting in `kind` (quotes need only the record).
private func record(on platform: Platform, kind: EvidenceKind, measurement: UInt8 = 0x11) throws -> EnclaveRecord {
    try EnclaveRecord(
        enclaveID: "0011223344556677",
        identity: EnclaveIdentity(
            measurement: [UInt8](repeating: measurement, count: 48), signer: SignerIdentity.development.bytes,
            productID: 4, svn: 2, debug: false),
        canonicalManifest: Array("manifest".utf8), mechanisms: [.landlock], platformID: platform.platformID,
        tcbLevel: platform.tcbLevel, backingStoreDirectory: "/nonexistent", evidence: kind)
}

/// The policy a data owner writes from `cloister measure`: the measurement in every kind's form, simulation and the
/// development key allowed, a nonce required.
private func policy(measurement: UInt8 = 0x11, statuses: [TCBStatus] = [.upToDate]) -> Policy {
    Policy(
        id: "simulated", measurements: SimulatedIdentity.measurements([UInt8](repeating: measurement, count: 48)),
        allowSimulated: true, allowDevelopmentKeys: true, requireNonce: true, acceptableTCBStatuses: statuses)
}

private func appraiser(_ platform: Platform) throws -> Appraiser {
    Appraiser(
        evidence: EvidenceVerifier(trust: try platform.home.publishedTrust().trustStore),
        signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "test"))
}

private let key = Array(repeating: UInt8(0x42), count: 91)

@Suite("Simulated hardware evidence: every kind from one platform, verified through the format registry")
struct SimulatedEvidenceTests {
    /// One platform for the tests that do not change it (each platform's vendors cost three RSA keys).
    static let shared = Result { try PlatformFixture() }

    @Test(
        "each kind's evidence is affirmed under one policy, states the bound key, and is simulated",
        arguments: EvidenceKind.allCases)
    func everyKindAffirmed(kind: EvidenceKind) throws {
        let fixture = try Self.shared.get()
        let nonce = try SecureRandom.bytes(count: 32)
        let evidence = try fixture.platform.quote(
            for: record(on: fixture.platform, kind: kind), binding: QuoteBinding(nonce: nonce, publicKey: key))
        let result = try appraiser(fixture.platform).evaluate(
            evidence, policy: policy(), expectedNonce: nonce, at: Date())
        #expect(result.status == .affirming, "\(kind): \(result.failures.map { "\($0.name): \($0.detail)" })")
        // The format is the kind's vendor shape: `tdx-v5-td15` is read as `tdx`.
        #expect(result.format?.rawValue == kind.rawValue.split(separator: "-").first.map(String.init))
        #expect(result.claims?.publicKey == hexEncoded(key))
        #expect(result.claims?.simulated == true)
        #expect(result.claims?.nonce == hexEncoded(nonce))
        // Cloister's and Nitro's documents state the binding themselves; the hardware kinds come bound.
        #expect([EvidenceKind.cloister, .nitro].contains(kind) == (try BoundEvidence.read(evidence) == nil))
    }

    @Test(
        "another nonce, another enclave, or a key swapped beside the evidence is refused",
        arguments: EvidenceKind.allCases)
    func bindingsHold(kind: EvidenceKind) throws {
        let fixture = try Self.shared.get()
        let appraiser = try appraiser(fixture.platform)
        let nonce = try SecureRandom.bytes(count: 32)
        let other = try fixture.platform.quote(
            for: record(on: fixture.platform, kind: kind, measurement: 0x22),
            binding: QuoteBinding(nonce: nonce, publicKey: key))
        #expect(
            appraiser.evaluate(other, policy: policy(), expectedNonce: nonce, at: Date()).failures.map(\.name)
                == ["measurement"])
        let evidence = try fixture.platform.quote(
            for: record(on: fixture.platform, kind: kind), binding: QuoteBinding(nonce: nonce, publicKey: key))
        #expect(
            appraiser.evaluate(evidence, policy: policy(), expectedNonce: [1], at: Date()).failures.map(\.name)
                == ["nonce"])
        guard var bound = try BoundEvidence.read(evidence) else { return }
        bound.publicKey = Array(repeating: 0x43, count: 91)
        // Unbound, the claims state no nonce either: the nonce check fails beside report-data.
        #expect(
            appraiser.evaluate(bound.encoded(), policy: policy(), expectedNonce: nonce, at: Date()).failures.map(
                \.name) == ["report-data", "nonce"])
    }

    @Test("without allow_simulated every kind is refused as simulated", arguments: EvidenceKind.allCases)
    func simulationRefused(kind: EvidenceKind) throws {
        let fixture = try Self.shared.get()
        let evidence = try fixture.platform.quote(
            for: record(on: fixture.platform, kind: kind), binding: QuoteBinding(nonce: [1], publicKey: key))
        var strict = policy()
        strict.allowSimulated = false
        let result = try appraiser(fixture.platform).evaluate(evidence, policy: strict, expectedNonce: [1], at: Date())
        #expect(result.failures.map(\.name).contains("simulated"))
    }

    @Test("after a TCB recovery Intel-shaped evidence is out of date with the recovery's advisory, as Cloister's")
    func tcbRecovery() throws {
        let fixture = try PlatformFixture()
        let platform = try Platform.publishTCBRecovery(home: fixture.home)
        #expect(platform.simulatedTCB.latestLevel == 2 && platform.tcbLevel == 1)
        for kind in [EvidenceKind.sgx, .sgxV4, .tdx, .tdxV5, .tdxV5TD15] {
            let evidence = try platform.quote(
                for: record(on: platform, kind: kind), binding: QuoteBinding(nonce: [1], publicKey: key))
            let result = try appraiser(platform).evaluate(evidence, policy: policy(), expectedNonce: [1], at: Date())
            #expect(result.claims?.tcbStatus == .outOfDate, "\(kind)")
            #expect(result.claims?.advisoryIDs == ["CLOISTER-SA-00002"], "\(kind)")
            #expect(result.failures.map(\.name) == ["tcb-status-accepted", "advisories"], "\(kind)")
        }
        let moved = try Platform.setTCBLevel(2, home: fixture.home)
        let evidence = try moved.quote(
            for: record(on: moved, kind: .tdx), binding: QuoteBinding(nonce: [1], publicKey: key))
        #expect(
            try appraiser(moved).evaluate(evidence, policy: policy(), expectedNonce: [1], at: Date()).status
                == .affirming)
    }

    @Test("configuration needed is stated by Intel-shaped evidence and cleared again")
    func configurationNeeded() throws {
        let fixture = try PlatformFixture()
        let platform = try Platform.setConfigurationNeeded(true, home: fixture.home)
        let evidence = try platform.quote(
            for: record(on: platform, kind: .sgx), binding: QuoteBinding(nonce: [1], publicKey: key))
        let result = try appraiser(platform).evaluate(
            evidence, policy: policy(statuses: [.upToDate, .configurationNeeded]), expectedNonce: [1], at: Date())
        #expect(result.claims?.tcbStatus == .configurationNeeded)
        #expect(result.status == .warning)
        let cleared = try Platform.setConfigurationNeeded(false, home: fixture.home)
        #expect(!cleared.simulatedTCB.configurationNeeded)
    }

    @Test("once the platform is revoked, evidence of every kind fails", arguments: EvidenceKind.allCases)
    func revocation(kind: EvidenceKind) throws {
        let fixture = try PlatformFixture()
        let platform = try Platform.revoke(home: fixture.home)
        let evidence = try platform.quote(
            for: record(on: platform, kind: kind), binding: QuoteBinding(nonce: [1], publicKey: key))
        let result = try appraiser(platform).evaluate(evidence, policy: policy(), expectedNonce: [1], at: Date())
        #expect(result.status == .contraindicated, "\(kind): \(result.checks.map(\.name))")
    }

    @Test("a simulated vendor root is never a vendor's pinned root")
    func simulatedRootsAreNotVendors() throws {
        let roots = try PlatformFixture().platform.vendorRoots
        #expect(hexEncoded(roots.intel.sha256Fingerprint) != TrustStore.intelSGXRootCAFingerprint)
        #expect(!TrustStore.amdARKFingerprints.values.contains(hexEncoded(roots.amd.sha256Fingerprint)))
        #expect(hexEncoded(roots.nitro.sha256Fingerprint) != TrustStore.awsNitroRootG1Fingerprint)
        for root in [roots.intel, roots.amd, roots.nitro] {
            #expect(root.subject.description.contains("Simulated"))
        }
    }
}
