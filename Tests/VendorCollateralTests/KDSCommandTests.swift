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

/// `cloister verify --kds` and the verifier service with a KDS, against the fake KDS.
@Suite("cloister verify --kds and the service's KDS")
struct KDSCommandTests {
    private func verify(_ arguments: [String]) async throws -> ToolOutput {
        try await offPool { try runTool(cloisterExecutable, ["verify"] + arguments) }
    }

    @Test("verify --kds prints what verify --vcek prints, then reuses its cache; KDS failures exit 69")
    func verifyCommand() async throws {
        let directory = try TestEnvironment.temporaryDirectory("verify-kds")
        let cache = directory.appendingPathComponent("cache").path
        let report = TestEnvironment.vector(KDSVector.report).path
        let chain = TestEnvironment.vector(KDSVector.chain).path
        let common = [report, "--format", "snp", "--trust-anchor", chain, "--at", "2025-06-01T00:00:00Z"]
        let fromFile = try await verify(common + ["--vcek", TestEnvironment.vector(KDSVector.vcek).path])
        #expect(fromFile.standardOutput.contains("pass  signature"), "\(fromFile.standardOutput)")
        let evidenceChecks = fromFile.standardOutput.split(separator: "\n").prefix { !$0.contains("policy") }
        #expect(!evidenceChecks.contains { $0.hasPrefix("FAIL") }, "\(fromFile.standardOutput)")
        let kds = try FakePCCS()
        try await kds.serving { base in
            let kdsOptions = ["--kds", base, "--kds-cache", cache, "--product", "Milan"]
            let fetched = try await verify(common + kdsOptions)
            #expect(fetched.status == fromFile.status, "\(fetched.standardError)")
            #expect(fetched.standardOutput == fromFile.standardOutput)
            #expect(
                fetched.standardError.contains("publishes no CRL for this product line (404)"),
                "\(fetched.standardError)")
            // The ASK comes with --trust-anchor: only the VCEK and the CRL are asked for.
            #expect(kds.requested == [KDSVector.vcekPath, "/vcek/v1/Milan/crl"])
            let cached = try await verify(common + kdsOptions)
            #expect(cached.standardOutput == fromFile.standardOutput && kds.requested.count == 2)

            // Given only the ARK, the ASK is fetched; the fetched ARK is not trusted in its place.
            let arkOnly = directory.appendingPathComponent("ark.pem")
            let pem = try String(contentsOfFile: chain, encoding: .utf8)
            let end = "-----END CERTIFICATE-----\n"
            try (pem.components(separatedBy: end)[1] + end).write(to: arkOnly, atomically: true, encoding: .utf8)
            let withARK = try await verify(
                [report, "--format", "snp", "--trust-anchor", arkOnly.path, "--at", "2025-06-01T00:00:00Z"]
                    + kdsOptions)
            #expect(withARK.standardOutput == fromFile.standardOutput, "\(withARK.standardError)")
            #expect(kds.requested.last == "/vcek/v1/Milan/cert_chain")

            kds.set(.status(500), for: "/vcek/")
            let failing = try await verify(
                common + ["--kds", base, "--kds-cache", directory.appendingPathComponent("empty").path]
                    + ["--product", "Milan"])
            #expect(failing.status == 69, "\(failing.standardError)")
            #expect(
                failing.standardError.contains(
                    "error: kds-unavailable: GET \(base)\(KDSVector.vcekPath) answered HTTP 500"),
                "\(failing.standardError)")
            #expect(failing.standardOutput.isEmpty)

            let unversioned = try await verify(common + ["--kds", base, "--kds-cache", cache])
            #expect(
                unversioned.status == 65 && unversioned.standardError.contains("give it (--product Milan or Genoa)"))
        }
        let quote = try await verify([
            TestEnvironment.vector(DCAPVector.sgx.quote).path, "--trust-anchor",
            TestEnvironment.vector("testvectors/sgx/intel-sgx-root-ca.pem").path, "--kds", "https://kds.example",
        ])
        #expect(quote.status == 64 && quote.standardError.contains("--kds fetches VCEKs for AMD SEV-SNP reports"))
        let cacheAlone = try await verify(common + ["--kds-cache", cache])
        #expect(cacheAlone.status == 64 && cacheAlone.standardError.contains("--kds-cache needs --kds"))
        let badProduct = try await verify(common + ["--kds", "https://kds.example", "--product", "Turin"])
        #expect(badProduct.status == 64 && badProduct.standardError.contains("--product must be Milan or Genoa"))
        let serve = try await offPool { try runTool(cloisterExecutable, ["serve", "--kds", "https://kds.example"]) }
        #expect(serve.status == 64 && serve.standardError.contains("--kds needs --amd-chain"), "\(serve.standardError)")
        let serveCache = try await offPool {
            try runTool(cloisterExecutable, ["serve", "--amd-chain", chain, "--kds-cache", cache])
        }
        #expect(serveCache.status == 64 && serveCache.standardError.contains("--kds-cache needs --kds"))
        let help = try await verify(["--help"]).standardOutput
        #expect(help.contains("--kds <kds>") && help.contains("--kds-cache <kds-cache>"), "\(help)")
    }

    @Test("the service fetches the VCEK it lacks before appraising, once; 502 when the KDS fails")
    func service() async throws {
        let kds = try FakePCCS()
        let chain = try X509Certificate.certificates(
            fromPEM: String(contentsOf: TestEnvironment.vector(KDSVector.chain), encoding: .utf8))
        let report = Array(try Data(contentsOf: TestEnvironment.vector(KDSVector.report)))
        let signer = try ResultSigner(key: ECPrivateKey(generating: .p256), build: "kds tests")
        @Sendable func service(_ cache: AMDKDSCache) throws -> AttestationService {
            AttestationService(
                store: try SQLiteVerifierStore(
                    path: TestEnvironment.temporaryDirectory("kds-store").appendingPathComponent("v.sqlite").path),
                trust: TrustStore([
                    .snp: TrustStore.FormatTrust(
                        roots: chain.filter(\.isSelfSigned),
                        collateral: chain.filter { !$0.isSelfSigned }.map(\.derRepresentation))
                ]), endorsementCache: cache, signer: signer)
        }
        try await kds.serving { base in
            let client = try AMDKDSClient(baseURL: base, requestTimeout: patience)
            let fetching = try service(
                AMDKDSCache(client: client, directory: TestEnvironment.temporaryDirectory("kds-serve").path))
            for _ in 0..<2 {
                let result = try await fetching.appraise(
                    report, format: nil, policyID: nil, expectedNonce: nil, at: KDSVector.verifyAt)
                #expect(result.checks.first { $0.name == "signature" }?.passed == true, "\(result.checks)")
                #expect(result.checks.first { $0.name == "endorsement-key" }?.passed == true, "\(result.checks)")
            }
            #expect(kds.requested == [KDSVector.vcekPath, "/vcek/v1/Milan/crl"], "the second from the cache")

            kds.set(.status(500), for: "/vcek/")
            let failing = try service(
                AMDKDSCache(client: client, directory: TestEnvironment.temporaryDirectory("kds-serve-empty").path))
            do {
                _ = try await failing.appraise(
                    report, format: .snp, policyID: nil, expectedNonce: nil, at: KDSVector.verifyAt)
                Issue.record("a failing KDS was not reported")
            } catch let error as ServiceError {
                #expect(error.status == .badGateway && error.code == "collateral-unavailable")
                #expect(error.message.contains("GET \(base)\(KDSVector.vcekPath)"), "\(error.message)")
            }
        }
    }
}
