import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import HTTPService
import HTTPTypes
import Testing
import VendorCollateral
import Verifier
import VerifierServer

/// `cloister verify --pccs` and the verifier service with a PCCS, against the fake PCCS.
@Suite("cloister verify --pccs and the service's PCCS")
struct PCCSCommandTests {
    private static let root = TestEnvironment.vector("testvectors/sgx/intel-sgx-root-ca.pem").path

    private func verify(_ arguments: [String]) async throws -> ToolOutput {
        try await offPool { try runTool(cloisterExecutable, ["verify"] + arguments) }
    }

    @Test("verify --pccs prints what verify --collateral prints, then reuses its cache; PCCS failures exit 69")
    func verifyCommand() async throws {
        let directory = try TestEnvironment.temporaryDirectory("verify-pccs")
        let cache = directory.appendingPathComponent("cache").path
        let quote = TestEnvironment.vector(DCAPVector.sgx.quote).path
        let common = [quote, "--format", "sgx", "--trust-anchor", Self.root, "--at", "2025-07-01T00:00:00Z"]
        let fromFile = try await verify(
            common + ["--collateral", TestEnvironment.vector(DCAPVector.sgx.collateral).path])
        #expect(
            fromFile.status == 2 && fromFile.standardOutput.contains("pass  tcb-level"), "\(fromFile.standardOutput)")
        let pccs = try FakePCCS()
        try await pccs.serving { base in
            let fetched = try await verify(common + ["--pccs", base, "--pccs-cache", cache])
            #expect(fetched.status == fromFile.status, "\(fetched.standardError)")
            #expect(fetched.standardOutput == fromFile.standardOutput)
            #expect(pccs.requested.count == 4)
            let cached = try await verify(common + ["--pccs", base, "--pccs-cache", cache])
            #expect(cached.standardOutput == fromFile.standardOutput && pccs.requested.count == 4)

            pccs.set(.status(500), for: "/tcb")
            let failing = try await verify(
                common + ["--at", "2025-08-01T00:00:00Z", "--pccs", base, "--pccs-cache", cache])
            #expect(failing.status == 69, "\(failing.standardError)")
            #expect(
                failing.standardError.contains(
                    "error: pcs-unavailable: GET \(base)/sgx/certification/v4/tcb?fmspc=00A067110000&update=standard "
                        + "answered HTTP 500"), "\(failing.standardError)")
            #expect(failing.standardOutput.isEmpty)
        }
        let both = try await verify(
            common + [
                "--pccs", "https://pccs.example", "--collateral",
                TestEnvironment.vector(DCAPVector.sgx.collateral).path,
            ])
        #expect(both.status == 64 && both.standardError.contains("--pccs and --collateral exclude each other"))
        let badURL = try await verify(common + ["--pccs", "ftp://pccs.example"])
        #expect(
            badURL.status == 64
                && badURL.standardError.contains("ftp://pccs.example is not an absolute http or https URL"))
        let cacheAlone = try await verify(common + ["--pccs-cache", cache])
        #expect(cacheAlone.status == 64 && cacheAlone.standardError.contains("--pccs-cache needs --pccs"))
        let help = try await verify(["--help"]).standardOutput
        #expect(help.contains("--pccs <pccs>") && help.contains("--pccs-cache <pccs-cache>"), "\(help)")
    }

    @Test(
        "the service fetches collateral it lacks before appraising, never what --dcap-collateral covers; 502 when the PCCS fails"
    )
    func service() async throws {
        let pccs = try FakePCCS()
        let root = try X509Certificate.certificates(fromPEM: String(contentsOfFile: Self.root, encoding: .utf8))
        let signer = try ResultSigner(key: ECPrivateKey(generating: .p256), build: "pccs tests")
        @Sendable func service(collateral: [[UInt8]], cache: PCSCollateralCache) throws -> AttestationService {
            let dcap = TrustStore.FormatTrust(roots: root, collateral: collateral)
            return AttestationService(
                store: try SQLiteVerifierStore(
                    path: TestEnvironment.temporaryDirectory("pccs-store").appendingPathComponent("v.sqlite").path),
                trust: TrustStore([.sgx: dcap, .tdx: dcap]), collateralCache: cache, signer: signer)
        }
        try await pccs.serving { base in
            let cache = try PCSCollateralCache(
                client: PCSClient(baseURL: base, requestTimeout: patience),
                directory: TestEnvironment.temporaryDirectory("pccs-serve").path)
            let fetching = try service(collateral: [], cache: cache)
            for vector in [DCAPVector.sgx, .tdx] {
                let result = try await fetching.appraise(
                    vector.quoteBytes, format: nil, policyID: nil, expectedNonce: nil, at: verifyAt)
                #expect(result.checks.first { $0.name == "collateral" }?.passed == true, "\(result.checks)")
                #expect(result.checks.first { $0.name == "tcb-level" }?.passed == true, "\(result.checks)")
            }
            #expect(pccs.requested.count == 8)
            _ = try await fetching.appraise(
                DCAPVector.sgx.quoteBytes, format: .sgx, policyID: nil, expectedNonce: nil, at: verifyAt)
            #expect(pccs.requested.count == 8, "cached")

            let configured = try service(collateral: [DCAPVector.sgx.collateralBytes], cache: cache)
            pccs.set(.status(500), for: "/")
            _ = try await configured.appraise(
                DCAPVector.sgx.quoteBytes, format: nil, policyID: nil, expectedNonce: nil, at: verifyAt)
            #expect(pccs.requested.count == 8, "covered by --dcap-collateral: not fetched")
            do {
                _ = try await configured.appraise(
                    DCAPVector.sgx.quoteBytes, format: nil, policyID: nil, expectedNonce: nil, at: afterNextUpdate)
                Issue.record("a failing PCCS was not reported")
            } catch let error as ServiceError {
                #expect(error.status == .badGateway && error.code == "collateral-unavailable")
                #expect(error.message.contains("GET \(base)/sgx/certification/v4/pckcrl"), "\(error.message)")
            }
            #expect(pccs.requested.count == 9, "past the configured collateral's next update: asked for")
        }
    }
}
