import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing
import Verifier

/// One case of `Tests/Interop/dcap_differential.py`: a quote and its collateral rebuilt under a test PKI and changed,
/// with dcap-qvl's verdict.
private struct DifferentialCase {
    let base: String
    let name: String
    let quote: [UInt8]
    let collateral: [UInt8]
    /// Nil when the case pins bytes that are not a certificate (a relying party cannot pin them at all).
    let root: X509Certificate?
    let time: Date
    /// dcap-qvl's verdict: nil when it refused, else its status (Intel's spelling) and advisories.
    let dcap: (status: String, advisories: [String])?
    let dcapError: String

    init(_ object: [String: Any]) throws {
        base = try #require(object["base"] as? String)
        name = try #require(object["name"] as? String)
        quote = try #require(hexDecoded(object["quote"] as? String ?? ""))
        collateral = Array(try JSONSerialization.data(withJSONObject: try #require(object["collateral"])))
        root = try? X509Certificate(derRepresentation: try #require(hexDecoded(object["root"] as? String ?? "")))
        time = Date(timeIntervalSince1970: try #require(object["now"] as? Double))
        let dcap = try #require(object["dcap"] as? [String: Any])
        if dcap["accepted"] as? Bool == true {
            self.dcap = (try #require(dcap["status"] as? String), try #require(dcap["advisory_ids"] as? [String]))
        } else {
            self.dcap = nil
        }
        dcapError = dcap["error"] as? String ?? ""
    }

    /// Cloister's verdict on the case, as dcap-qvl's reads: the whole appraisal under a policy that names the quote's
    /// measurement and accepts every TCB status but Revoked and every advisory (with a warning), so that what is left
    /// to refuse is what dcap-qvl refuses: the evidence checks, debug and unsafe TD attributes; then the status and
    /// advisories.
    func cloister() -> (verdict: (status: String, advisories: [String])?, failed: [String]) {
        let format: EvidenceFormat = base == "sgx" ? .sgx : .tdx
        guard let root else { return (nil, ["trust-anchor"]) }
        let trust = TrustStore([format: TrustStore.FormatTrust(roots: [root], collateral: [collateral])])
        let evidence = EvidenceVerifier(trust: trust)
        guard let claims = evidence.verify(quote, format: format, at: time).claims else { return (nil, ["decode"]) }
        let policy = Policy(
            id: "differential", measurements: [claims.measurement], maximumAgeSeconds: nil,
            acceptableTCBStatuses: TCBStatus.allCases.filter { $0 != .revoked }, otherAdvisories: .warning)
        let signer = try? ResultSigner(key: ECPrivateKey(generating: .p256), build: "differential")
        guard let signer else { return (nil, ["result-signer"]) }
        let result = Appraiser(evidence: evidence, signer: signer).evaluate(
            quote, format: format, policy: policy, at: time)
        let failed = result.failures.map(\.name)
        guard failed.isEmpty, let status = result.claims?.tcbStatus else { return (nil, failed) }
        return ((status.intelName, claims.advisoryIDs), [])
    }
}

private let carriedPath =
    "a chain carried in evidence is exactly the path it verifies, ending with the pinned root itself (Intel's QVL "
    + "compares the carried root with the trusted one; dcap-qvl builds a path from the pinned key and ignores it)"

/// Cases where Cloister decides otherwise than dcap-qvl on purpose, by name, each with the rule Cloister follows.
/// Every other disagreement fails the test.
private let designedDifferences: [(pattern: String, reason: String)] = [
    ("pceId", "Intel's QVL compares the TCB info's PCE-ID with the PCK certificate's; dcap-qvl does not"),
    ("pceid", "Intel's QVL compares the TCB info's PCE-ID with the PCK certificate's; dcap-qvl does not"),
    ("pck_crl_issuer_chain", "Cloister checks every collateral item; dcap-qvl never reads the PCK CRL issuer chain"),
    ("thisUpdate", "a CRL issued after the appraisal's time is not current (OpenSSL, Intel's QVL)"),
    ("root expired", "the pinned root must be valid at the appraisal's time (OpenSSL, Intel's QVL)"),
    ("root notBefore", "the pinned root must be valid at the appraisal's time (OpenSSL, Intel's QVL)"),
    ("pathLenConstraint", "the root's path length constraint holds (RFC 5280); dcap-qvl ignores the anchor's"),
    ("keyUsage", "key usage holds (RFC 5280): CAs sign certificates, the PCK signs; dcap-qvl does not check"),
    ("extendedKeyUsage", "dcap-qvl verifies chains for TLS server use; an extended key usage says nothing of a PCK"),
    ("QE auth data", "Intel's QVL takes QE authentication data of any length; dcap-qvl only 32 bytes"),
    ("version 4 layout", "Intel's QVL verifies SGX quotes of version 4 too; dcap-qvl only version 3"),
    ("cpusvn", "Intel's QVL compares the PCK's 16 TCB component SVNs with a level's; dcap-qvl its CPUSVN bytes"),
    ("component 1 - 1", "Intel's QVL compares the PCK's 16 TCB component SVNs with a level's; dcap-qvl its CPUSVN"),
    ("pcesvn 65535", "a PCESVN is 16 bits; dcap-qvl refuses one whose DER needs three bytes"),
    ("PCK extension pcesvn", "the PCK's SGX extension is read as strict DER in Intel's schema; dcap-qvl is lax"),
    ("PCK extension component 16 removed", "the SGX extension is read as strict DER in Intel's schema"),
    ("PCK extension sgx type", "the SGX extension is read in Intel's schema: SGX type 0, 1 or 2"),
    ("PCK extension with", "the SGX extension is read as strict DER in Intel's schema, nothing added"),
    (
        "tcb_info version",
        "Cloister reads TCB info version 3, refusing other versions rather than guessing their fields"
    ),
    ("15 sgx components", "a level without 16 SGX components makes the TCB info malformed, reached or not"),
    (
        "flipped (PCK",
        "Cloister reads the quote's PCK chain whole, its root included; dcap-qvl ignores the chain's root"
    ),
    ("PCK chain with text before", "a chain carried in evidence is PEM blocks and nothing else, every byte read"),
    ("PCK chain with trailing garbage", "a chain carried in evidence is PEM blocks and nothing else, every byte read"),
    ("PCK chain leaf, root, PCK CA", carriedPath),
    ("PCK chain without the root", carriedPath),
    ("PCK chain with the TCB signing certificate appended", carriedPath),
    ("PCK chain with the leaf twice", carriedPath),
    ("issuer_chain TCB signing certificate alone", carriedPath),
    ("issuer_chain with the PCK CA appended", carriedPath),
    ("pinned root issued again for the same key", carriedPath),
    ("ends at another root", carriedPath),
    ("ends at Intel's SGX Root CA", carriedPath),
    ("issuer chains end at another root", carriedPath),
    ("(trailing padding)", "only zeros may follow a quote's signature data (Intel's QVL: nothing; dcap-qvl: anything)"),
    (
        "appended to the quote",
        "only zeros may follow a quote's signature data (Intel's QVL: nothing; dcap-qvl: anything)"
    ),
    (
        "flipped (QE certification data header)",
        "versions 4 and 5 carry certification data of type 6 (Intel's quote "
            + "format); dcap-qvl does not read the type"
    ),
]

@Suite("Intel DCAP verification: Cloister against dcap-qvl on hundreds of rebuilt and changed quotes")
struct DCAPDifferentialTests {
    @Test("every case: both accept with the same status and advisories, or both refuse (designed differences named)")
    func differential() throws {
        guard let python = TestEnvironment.python else {
            Issue.record("CLOISTER_PYTHON is not set: run `make test`, which installs dcap-qvl in .venv")
            return
        }
        let output = try runTool(
            python,
            [
                TestEnvironment.interopScript("dcap_differential.py"),
                TestEnvironment.vector("testvectors/sgx").path, "19", "500",
            ])
        try #require(output.status == 0, "\(output.standardError)")
        let objects = try #require(
            try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [[String: Any]])
        let cases = try objects.map(DifferentialCase.init)
        #expect(cases.count == 1000)
        var agreed = 0
        var designed: [String] = []
        var disagreements: [String] = []
        for item in cases {
            let (verdict, failed) = item.cloister()
            let same =
                switch (verdict, item.dcap) {
                case (nil, nil): true
                case (let ours?, let theirs?): ours.status == theirs.status && ours.advisories == theirs.advisories
                default: false
                }
            if same {
                agreed += 1
            } else if let difference = designedDifferences.first(where: { item.name.contains($0.pattern) }) {
                designed.append("\(item.base) \(item.name): \(difference.reason)")
            } else {
                disagreements.append(
                    "\(item.base) \(item.name): Cloister "
                        + (verdict.map { "\($0.status) \($0.advisories)" } ?? "refused (\(failed))") + ", dcap-qvl "
                        + (item.dcap.map { "\($0.status) \($0.advisories)" }
                            ?? "refused (\(item.dcapError.prefix(120)))"))
            }
        }
        #expect(
            disagreements.isEmpty, "\(disagreements.count) disagreements:\n\(disagreements.joined(separator: "\n"))")
        #expect(agreed + designed.count + disagreements.count == cases.count)
        print("DCAP differential: \(agreed) of \(cases.count) cases agree, \(designed.count) differ by design")
    }

    @Test("the vectors rebuilt to verify at another time (--rebuild-at, for scripts/bench-service-dcap) verify then")
    func rebuiltAt() throws {
        guard let python = TestEnvironment.python else {
            Issue.record("CLOISTER_PYTHON is not set: run `make test`, which installs dcap-qvl in .venv")
            return
        }
        let directory = try TestEnvironment.temporaryDirectory("dcap-rebuilt")
        defer { try? FileManager.default.removeItem(at: directory) }
        let moment = Date(timeIntervalSince1970: 1_900_000_000)  // 2030-03-17, years after the real collateral
        let output = try runTool(
            python,
            [
                TestEnvironment.interopScript("dcap_differential.py"), "--rebuild-at", "1900000000",
                TestEnvironment.vector("testvectors/sgx").path, directory.path,
            ])
        try #require(output.status == 0, "\(output.standardError)")
        for (base, format, status) in [
            ("sgx", EvidenceFormat.sgx, TCBStatus.configurationAndSWHardeningNeeded), ("tdx", .tdx, .upToDate),
        ] {
            func file(_ name: String) throws -> [UInt8] {
                Array(try Data(contentsOf: directory.appendingPathComponent(base).appendingPathComponent(name)))
            }
            let roots = try X509Certificate.certificates(fromPEM: String(decoding: try file("root.pem"), as: UTF8.self))
            let verifier = EvidenceVerifier(
                trust: TrustStore([
                    format: TrustStore.FormatTrust(roots: roots, collateral: [try file("collateral.json")])
                ]))
            let rebuilt = verifier.verify(try file("quote.bin"), at: moment)
            #expect(rebuilt.passed, "\(base): \(rebuilt.checks.filter { !$0.passed })")
            #expect(rebuilt.claims?.tcbStatus == status)
            #expect(rebuilt.warnings.count == 1, "\(base): the test root is not Intel's")
            let real = verifier.verify(try file("quote.bin"), at: Date(timeIntervalSince1970: 1_751_328_000))
            #expect(real.checks.filter { !$0.passed }.map(\.name).contains("collateral-current"))
        }
    }
}
