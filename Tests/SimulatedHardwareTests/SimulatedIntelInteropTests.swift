import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import SimulatedHardware
import Testing

/// Verdicts that differ by design, by quote kind: dcap-qvl verifies SGX quotes of version 3 only (Intel's QVL, and
/// Cloister, version 4 too).
private let dcapQVLRefuses: Set<String> = ["SGX v4"]

@Suite("Simulated Intel quotes against dcap-qvl: the same status and advisories as Cloister's verifier")
struct SimulatedIntelInteropTests {
    @Test("fresh quotes of every kind, up to date, after a recovery, configuration needed and revoked")
    func dcapQVLAgrees() throws {
        guard let python = TestEnvironment.python else {
            Issue.record("CLOISTER_PYTHON is not set: run `make test`, which installs dcap-qvl in .venv")
            return
        }
        let directory = try TestEnvironment.temporaryDirectory("simulated-intel")
        defer { try? FileManager.default.removeItem(at: directory) }
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(30), at: intelCreated)
        let rootPath = directory.appendingPathComponent("root.der")
        try Data(vendor.rootCertificate.derRepresentation).write(to: rootPath)
        let situations: [(String, SimulatedTCB)] = [
            ("up-to-date", SimulatedTCB(level: 2, latestLevel: 2)),
            ("recovered", SimulatedTCB(level: 2, latestLevel: 4)),
            ("configuration", SimulatedTCB(level: 3, latestLevel: 3, configurationNeeded: true)),
            ("revoked", SimulatedTCB(level: 2, latestLevel: 2, isRevoked: true)),
        ]
        var pairs: [String] = []
        var expected: [(name: String, kind: IntelQuoteKind, outcome: EvidenceVerifier.Outcome)] = []
        for (situation, tcb) in situations {
            let collateral = try vendor.publish(tcb, at: intelNow)
            for kind in IntelQuoteKind.all {
                let name = "\(situation)-\(kind.description.replacing(" ", with: "-"))"
                let quote = try kind.make(vendor, intelEnclave(9), tcb, collateral)
                let quotePath = directory.appendingPathComponent("\(name).bin")
                let collateralPath = directory.appendingPathComponent("\(name).json")
                try Data(quote).write(to: quotePath)
                try Data(try collateral.quoteCollateralJSON(tee: kind.tee)).write(to: collateralPath)
                pairs.append("\(quotePath.path):\(collateralPath.path)")
                expected.append(
                    (name, kind, try cloisterVerdict(quote, kind, root: vendor.rootCertificate, collateral: collateral))
                )
            }
        }
        let output = try runTool(
            python,
            [
                TestEnvironment.interopScript("dcap_verify_simulated.py"), rootPath.path,
                String(Int(intelNow.timeIntervalSince1970)),
            ] + pairs)
        try #require(output.status == 0, "\(output.standardError)")
        let verdicts = try #require(
            try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [[String: Any]])
        try #require(verdicts.count == expected.count)
        for (verdict, (name, kind, outcome)) in zip(verdicts, expected) {
            let accepted = verdict["accepted"] as? Bool == true
            if name.hasPrefix("revoked") {
                #expect(!accepted, "\(name): dcap-qvl accepted a revoked PCK")
                #expect(failedChecks(outcome) == ["certificate-chain"], "\(name)")
                continue
            }
            #expect(outcome.passed, "\(name): Cloister failed \(failedChecks(outcome))")
            if dcapQVLRefuses.contains(kind.description) {
                #expect(!accepted, "\(name): dcap-qvl now verifies \(kind) quotes")
                continue
            }
            #expect(accepted, "\(name): dcap-qvl refused: \(verdict["error"] ?? "")")
            #expect(verdict["status"] as? String == outcome.claims?.tcbStatus?.intelName, "\(name)")
            #expect(verdict["advisory_ids"] as? [String] == outcome.claims?.advisoryIDs, "\(name)")
        }
        let statuses = Set(expected.compactMap { $0.outcome.claims?.tcbStatus })
        #expect(statuses.isSuperset(of: [.upToDate, .outOfDate, .configurationNeeded]))
    }
}
