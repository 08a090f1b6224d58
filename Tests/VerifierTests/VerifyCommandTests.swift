import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

/// `cloister verify` as a user runs it: the README's examples, and the exit status of each refusal.
@Suite("cloister verify from the command line")
struct VerifyCommandTests {
    private func verify(_ arguments: [String]) throws -> ToolOutput {
        try runTool(cloisterExecutable, ["verify"] + arguments)
    }

    private func write(_ text: String, _ name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    @Test("the README quick start's five-line policy affirms a fresh quote; without a policy it is contraindicated")
    func quickStartPolicy() throws {
        let evidence = try CloisterEvidence()
        let directory = try TestEnvironment.temporaryDirectory("verify-cli")
        let quote = directory.appendingPathComponent("quote.cose")
        try Data(evidence.quote(nonce: [0xc0, 0xff, 0xee])).write(to: quote)
        let policy = try write(
            """
            id = "echo-dev"
            measurements = ["\(hexString(evidence.record.identity.measurement))"]
            allow_simulated = true
            allow_development_keys = true
            require_nonce = true
            """, "policy.toml", in: directory)
        let affirmed = try verify([quote.path, "--home", evidence.home.path, "--nonce", "c0ffee", "--policy", policy])
        #expect(affirmed.status == 0, "\(affirmed.standardOutput)\(affirmed.standardError)")
        #expect(affirmed.standardOutput.hasSuffix("affirming (policy echo-dev)\n"))
        let withoutPolicy = try verify([quote.path, "--home", evidence.home.path, "--nonce", "c0ffee"])
        #expect(withoutPolicy.status == 2)
        #expect(withoutPolicy.standardOutput.hasSuffix("contraindicated (policy default)\n"))
    }

    @Test("the README's Nitro example affirms the document two minutes after it was made, and fails age an hour later")
    func readmeNitroExample() throws {
        let directory = try TestEnvironment.temporaryDirectory("verify-cli")
        let policy = try write(
            """
            id = "evervault-prod"
            measurements = ["f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b"]
            """, "nitro.toml", in: directory)
        let document = TestEnvironment.vector("testvectors/nitro/evervault-prod-2022-10-13.cbor")
        let root = TestEnvironment.vector("testvectors/nitro/aws-nitro-root-g1.pem")
        let arguments = [document.path, "--policy", policy, "--trust-anchor", root.path, "--at"]
        let affirmed = try verify(arguments + ["2022-10-13T09:00:00Z"])
        #expect(affirmed.status == 0, "\(affirmed.standardOutput)\(affirmed.standardError)")
        #expect(affirmed.standardOutput.hasSuffix("affirming (policy evervault-prod)\n"))
        let stale = try verify(arguments + ["2022-10-13T10:00:00Z"])
        #expect(stale.status == 2)
        #expect(stale.standardOutput.contains("FAIL  age: made 3717 s ago, older than 300 s"))
    }

    @Test(
        "a policy value out of range exits 64 naming the file and key, where it used to kill the process",
        arguments: ["product_id = 70000", "product_id = -1", "product_id = 1\nmin_svn = 65536"])
    func policyOutOfRange(product: String) throws {
        let evidence = try CloisterEvidence()
        let directory = try TestEnvironment.temporaryDirectory("verify-cli")
        let quote = directory.appendingPathComponent("quote.cose")
        try Data(evidence.quote()).write(to: quote)
        let policy = try write("id = \"x\"\n[[products]]\n\(product)\n", "policy.toml", in: directory)
        let refused = try verify([quote.path, "--home", evidence.home.path, "--policy", policy])
        #expect(refused.status == 64, "\(refused.standardError)")
        #expect(refused.standardError.contains("\(policy): \"products[0]."), "\(refused.standardError)")
        #expect(refused.standardError.contains("must be an integer from 0 to 65535"))
    }

    @Test("without a platform in the home (and no --trust-anchor) verify exits 78, as its help says")
    func noPlatform() throws {
        let evidence = try CloisterEvidence()
        let directory = try TestEnvironment.temporaryDirectory("verify-cli")
        let quote = directory.appendingPathComponent("quote.cose")
        try Data(evidence.quote()).write(to: quote)
        let empty = directory.appendingPathComponent("no-platform").path
        let refused = try verify([quote.path, "--home", empty])
        #expect(refused.status == 78)
        #expect(refused.standardError.contains("no platform in \(empty)"), "\(refused.standardError)")
        let help = try verify(["--help"]).standardOutput.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("78 no Cloister platform in the home"), "\(help)")
    }

    @Test("the README's SEV-SNP example affirms the report; without AMD's chain, exit 64 says where to get it")
    func snpReport() throws {
        let directory = try TestEnvironment.temporaryDirectory("verify-snp")
        let evidence = TestEnvironment.vector("testvectors/snp/trustee-milan-report.bin").path
        let policy = try write(
            """
            id = "snp-sample"
            measurements = ["a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c"]
            min_guest_svn = 4
            required_vmpl = 0
            """, "snp.toml", in: directory)
        let appraised = try verify([
            evidence, "--trust-anchor", TestEnvironment.vector("testvectors/snp/milan_ask_ark_asvk.pem").path,
            "--vcek", TestEnvironment.vector("testvectors/snp/trustee-milan-vcek.der").path,
            "--at", "2025-06-01T00:00:00Z", "--policy", policy,
        ])
        #expect(appraised.status == 0, "\(appraised.standardOutput)\(appraised.standardError)")
        #expect(appraised.standardOutput.contains("pass  tcb-binding: "), "\(appraised.standardOutput)")
        #expect(appraised.standardOutput.hasSuffix("affirming (policy snp-sample)\n"), "\(appraised.standardOutput)")
        let unanchored = try verify([evidence, "--policy", policy])
        #expect(unanchored.status == 64)
        #expect(unanchored.standardError.contains("kdsintf.amd.com"), "\(unanchored.standardError)")
    }

    @Test("bytes in no format exit 65, naming every format tried")
    func unknownEvidence() throws {
        let directory = try TestEnvironment.temporaryDirectory("verify-cli")
        let junk = try write("not evidence", "junk.bin", in: directory)
        let unknown = try verify([junk])
        #expect(unknown.status == 65)
        #expect(unknown.standardError.contains("\(junk): unknown-evidence-format"), "\(unknown.standardError)")
        #expect(unknown.standardError.contains("tried: Cloister quote; AWS Nitro Enclaves attestation document"))
    }

    @Test("the README's SGX example: every check printed, a warning, the status and advisories in --json")
    func dcapQuote() throws {
        let directory = try TestEnvironment.temporaryDirectory("verify-dcap")
        let policy = try write(
            """
            id = "sgx"
            measurements = ["33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb"]
            acceptable_tcb_statuses = ["up-to-date", "configuration-and-sw-hardening-needed"]
            allowed_advisory_ids = ["INTEL-SA-00289", "INTEL-SA-00615"]
            """, "sgx.toml", in: directory)
        let arguments = [
            TestEnvironment.vector("testvectors/sgx/sgx_quote").path, "--format", "sgx",
            "--trust-anchor", TestEnvironment.vector("testvectors/sgx/intel-sgx-root-ca.pem").path,
            "--collateral", TestEnvironment.vector("testvectors/sgx/sgx_quote_collateral.json").path,
            "--at", "2025-07-01T00:00:00Z", "--policy", policy,
        ]
        let text = try verify(arguments)
        #expect(text.status == 0, "\(text.standardError)")
        #expect(text.standardOutput.contains("pass  tcb-level: "), "\(text.standardOutput)")
        #expect(text.standardOutput.hasSuffix("warning (policy sgx)\n"), "\(text.standardOutput)")
        #expect(
            text.standardOutput.contains("warning: the platform's TCB status is configuration-and-sw-hardening-needed"))
        let json = try verify(arguments + ["--json"])
        let object = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
        let claims = object?["claims"] as? [String: Any]
        #expect(claims?["tcb_status"] as? String == "configuration-and-sw-hardening-needed")
        #expect(claims?["advisory_ids"] as? [String] == ["INTEL-SA-00289", "INTEL-SA-00615"])
        let late = try verify(Array(arguments.dropLast(4)) + ["--at", "2026-07-01T00:00:00Z", "--policy", policy])
        #expect(late.status == 2 && late.standardOutput.contains("FAIL  collateral-current"), "\(late.standardOutput)")
        let missing = try verify(Array(arguments.dropLast(6)) + ["--collateral", "/nonexistent.json"])
        #expect(missing.status == 64 && missing.standardError.contains("/nonexistent.json"), "\(missing.standardError)")
        let broken = try write(#"{"pck_crl": "00"}"#, "broken.json", in: directory)
        let refused = try verify(Array(arguments.dropLast(6)) + ["--collateral", broken])
        #expect(refused.status == 64 && refused.standardError.contains("pck_crl_issuer_chain is missing"))
        #expect(refused.standardError.contains(broken), "\(refused.standardError)")
    }

    @Test("--format takes auto or a registry format's name, and says which when given another")
    func formatChoices() throws {
        let refused = try verify([TestEnvironment.vector("testvectors/sgx/sgx_quote").path, "--format", "sev"])
        #expect(refused.status == 64)
        #expect(refused.standardError.contains("The value 'sev' is invalid"), "\(refused.standardError)")
        for name in ["auto", "cloister", "nitro", "sgx", "tdx", "snp"] {
            #expect(refused.standardError.contains("- \(name)\n"), "\(refused.standardError)")
        }
        let help = try verify(["--help"]).standardOutput
        #expect(help.contains("--format <format>"), "\(help)")
        #expect(help.contains("values: auto, cloister, nitro, sgx, tdx, snp"), "\(help)")
    }
}
