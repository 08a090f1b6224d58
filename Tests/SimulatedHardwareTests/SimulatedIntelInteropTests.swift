import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import SimulatedHardware
import Testing

/// Verdicts that differ by design, by quote kind, with the words of dcap-qvl's refusal: dcap-qvl verifies SGX quotes
/// of version 3 only (Intel's QVL, and Cloister, version 4 too).
private let dcapQVLRefuses: [String: String] = ["SGX v4": "sgx tee quote must have version 3"]

@Suite("Simulated Intel quotes against dcap-qvl: the same status and advisories as Cloister's verifier")
struct SimulatedIntelInteropTests {
    @Test("fresh quotes of every kind, up to date, after a recovery, configuration needed and revoked")
    func dcapQVLAgrees() throws {
        let python = try #require(
            TestEnvironment.python, "CLOISTER_PYTHON is not set: run `make test`, which installs dcap-qvl in .venv")
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
            let error = (verdict["error"] as? String ?? "").lowercased()
            let revoked = name.hasPrefix("revoked")
            #expect(
                revoked ? failedChecks(outcome) == ["certificate-chain"] : outcome.passed,
                "\(name): Cloister failed \(failedChecks(outcome))")
            if let reason = dcapQVLRefuses[kind.description] {
                #expect(!accepted && error.contains(reason), "\(name): dcap-qvl answered \(verdict)")
            } else if revoked {
                #expect(!accepted && error.contains("revoked"), "\(name): dcap-qvl answered \(verdict)")
            } else {
                #expect(accepted, "\(name): dcap-qvl refused: \(error)")
                #expect(verdict["status"] as? String == outcome.claims?.tcbStatus?.intelName, "\(name)")
                #expect(verdict["advisory_ids"] as? [String] == outcome.claims?.advisoryIDs, "\(name)")
            }
        }
        let statuses = Set(expected.compactMap { $0.outcome.claims?.tcbStatus })
        #expect(statuses.isSuperset(of: [.upToDate, .outOfDate, .configurationNeeded]))
    }

    @Test("dcap-qvl fetches the collateral from the simulated PCS over HTTP, then verifies the quotes with it")
    func dcapQVLFetchesFromThePCS() throws {
        let python = try #require(
            TestEnvironment.python, "CLOISTER_PYTHON is not set: run `make test`, which installs dcap-qvl in .venv")
        let directory = try TestEnvironment.temporaryDirectory("simulated-pcs")
        defer { try? FileManager.default.removeItem(at: directory) }
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(31), at: intelCreated)
        let tcb = SimulatedTCB(level: 2, latestLevel: 3)
        let collateral = try vendor.publish(tcb, at: intelNow)
        let pcs = SimulatedPCS(collateral: collateral)
        // What the PCS answers to every request a PCCS client might make: dcap-qvl must ask only these.
        let fmspc = hexEncoded(collateral.fmspc).uppercased()
        var requests: [(String, [String: String])] = []
        for ca in ["platform", "processor"] {
            requests += [("pckcrl", ["ca": ca]), ("pckcrl", ["ca": ca, "encoding": "der"])]
        }
        requests += [("rootcacrl", [:])]
        for tee in ["sgx", "tdx"] {
            requests += [
                ("\(tee)/tcb", ["fmspc": fmspc]), ("\(tee)/tcb", ["fmspc": fmspc, "update": "standard"]),
                ("\(tee)/qe/identity", [:]), ("\(tee)/qe/identity", ["update": "standard"]),
            ]
        }
        var answers: [String: Any] = [:]
        for (route, query) in requests {
            let parts = route.split(separator: "/", maxSplits: 1)
            let (tee, rest) = parts.count == 2 ? (String(parts[0]), String(parts[1])) : ("sgx", route)
            let path = "/\(tee)/certification/v4/\(rest)"
            let response = pcs.respond(path: path, query: query)
            let key =
                path
                + (query.isEmpty
                    ? "" : "?" + query.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: "&"))
            answers[key] = [
                "status": response.status, "headers": response.headers.map { [$0.0, $0.1] },
                "body": hexEncoded(response.body),
            ]
        }
        let answersPath = directory.appendingPathComponent("answers.json")
        try JSONSerialization.data(withJSONObject: answers).write(to: answersPath)
        let rootPath = directory.appendingPathComponent("root.der")
        try Data(vendor.rootCertificate.derRepresentation).write(to: rootPath)
        let kinds = [IntelQuoteKind.all[0], IntelQuoteKind.all[2], IntelQuoteKind.all[4]]
        var quotePaths: [String] = []
        var outcomes: [EvidenceVerifier.Outcome] = []
        for (index, kind) in kinds.enumerated() {
            let quote = try kind.make(vendor, intelEnclave(10), tcb, collateral)
            let path = directory.appendingPathComponent("quote-\(index).bin")
            try Data(quote).write(to: path)
            quotePaths.append(path.path)
            outcomes.append(try cloisterVerdict(quote, kind, root: vendor.rootCertificate, collateral: collateral))
        }
        let output = try runTool(
            python,
            [
                TestEnvironment.interopScript("dcap_fetch_simulated.py"), answersPath.path, rootPath.path,
                String(Int(intelNow.timeIntervalSince1970)),
            ] + quotePaths)
        try #require(output.status == 0, "\(output.standardError)")
        let result = try #require(
            try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [String: Any])
        let verdicts = try #require(result["verdicts"] as? [[String: Any]])
        #expect(result["unanswered"] as? [String] == [], "dcap-qvl asked for routes the test did not answer")
        let asked = try #require(result["requests"] as? [String])
        #expect(asked.contains("/sgx/certification/v4/pckcrl?ca=platform&encoding=der"), "\(asked)")
        #expect(asked.contains("/tdx/certification/v4/tcb?fmspc=\(fmspc)&update=standard"), "\(asked)")
        #expect(asked.contains("/sgx/certification/v4/rootcacrl"), "\(asked)")
        try #require(verdicts.count == kinds.count)
        for ((verdict, kind), outcome) in zip(zip(verdicts, kinds), outcomes) {
            #expect(outcome.passed, "\(kind): Cloister failed \(failedChecks(outcome))")
            #expect(verdict["accepted"] as? Bool == true, "\(kind): dcap-qvl refused: \(verdict["error"] ?? "")")
            #expect(verdict["status"] as? String == "OutOfDate", "\(kind)")
            #expect(verdict["advisory_ids"] as? [String] == ["CLOISTER-SA-00003"], "\(kind)")
            #expect(outcome.claims?.advisoryIDs == ["CLOISTER-SA-00003"], "\(kind)")
        }
    }
}
