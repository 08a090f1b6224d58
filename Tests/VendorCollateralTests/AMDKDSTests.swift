import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing
import VendorCollateral

private var trusteeReport: SEVSNPReport {
    get throws { try SEVSNPReport(Array(Data(contentsOf: TestEnvironment.vector(KDSVector.report)))) }
}

private var milanChain: [X509Certificate] {
    get throws {
        try X509Certificate.certificates(
            fromPEM: String(contentsOf: TestEnvironment.vector(KDSVector.chain), encoding: .utf8))
    }
}

@Suite("VCEKs, certificate chains and CRLs fetched from AMD's KDS and cached on disk")
struct AMDKDSTests {
    @Test("the trustee report's VCEK URL is the one go-sev-guest's kds.VCEKCertURL builds")
    func vcekURL() throws {
        let key = try AMDVCEKKey(report: trusteeReport, product: .milan)
        #expect(key.tcb == 0x7308_0000_0000_0003)
        let client = try AMDKDSClient()
        #expect(client.url(of: key) == "https://kdsintf.amd.com" + KDSVector.vcekPath)
        #expect(
            try AMDKDSClient(baseURL: "http://127.0.0.1:8080/").url(of: key).hasPrefix("http://127.0.0.1:8080/vcek"))
        for refused in ["ftp://kds.example", "kdsintf.amd.com", "https://kds.example/?x=1", "https://"] {
            #expect(throws: KDSError.self, "\(refused)") { try AMDKDSClient(baseURL: refused) }
        }
    }

    @Test("the product line: given, or from a version 3 report's CPUID; a masked chip ID is refused")
    func productAndRefusals() throws {
        let report = try trusteeReport
        #expect {
            try AMDProductLine(report: report, given: nil)
        } throws: { error in
            (error as? KDSError)?.reason.contains("version 2 report does not state its product line") == true
        }
        #expect(try AMDProductLine(report: report, given: .genoa) == .genoa)
        #expect(AMDProductLine(family: 0x19, model: 0x01) == .milan)
        #expect(AMDProductLine(family: 0x19, model: 0x11) == .genoa)
        #expect(AMDProductLine(family: 0x1A, model: 0x02) == nil, "Turin: not fetched")

        var masked = Array(try Data(contentsOf: TestEnvironment.vector(KDSVector.report)))
        masked[0x48] |= 2
        #expect {
            try AMDVCEKKey(report: SEVSNPReport(masked), product: .milan)
        } throws: { error in
            (error as? KDSError)?.reason.contains("CHIP_ID is masked") == true
        }
    }

    @Test("fetched once: the VCEK and chain are the vectors', the appraisal with them passes every evidence check")
    func fetchAndCache() async throws {
        let kds = try FakePCCS()
        let directory = try TestEnvironment.temporaryDirectory("kds-cache").path
        let key = try AMDVCEKKey(report: trusteeReport, product: .milan)
        try await kds.serving { base in
            let client = try AMDKDSClient(baseURL: base, requestTimeout: patience)
            let cache = try AMDKDSCache(client: client, directory: directory)
            let vcek = try await cache.vcek(for: key)
            #expect(vcek == Array(try Data(contentsOf: TestEnvironment.vector(KDSVector.vcek))))
            let chain = try await cache.certificateChain(for: .milan)
            #expect(chain == Array(try milanChain.prefix(2)))
            #expect(
                try await cache.revocationList(for: .milan, at: KDSVector.verifyAt) == nil, "the fake KDS has no CRL")
            #expect(
                kds.requested == [KDSVector.vcekPath, "/vcek/v1/Milan/cert_chain", "/vcek/v1/Milan/crl"])

            let reopened = try AMDKDSCache(client: client, directory: directory)
            #expect(try await reopened.vcek(for: key) == vcek)
            #expect(try await reopened.certificateChain(for: .milan) == chain)
            #expect(try await reopened.revocationList(for: .milan, at: KDSVector.verifyAt) == nil)
            #expect(kds.requested.count == 3, "served from the files")
            _ = try await reopened.revocationList(for: .milan, at: KDSVector.verifyAt.addingTimeInterval(2 * 86400))
            #expect(kds.requested.count == 4, "a missing CRL is asked for again after a day")

            let trust = TrustStore([
                .snp: TrustStore.FormatTrust(
                    roots: chain.filter(\.isSelfSigned), collateral: [chain[0].derRepresentation, vcek])
            ])
            let outcome = EvidenceVerifier(trust: trust).verify(
                Array(try Data(contentsOf: TestEnvironment.vector(KDSVector.report))), at: KDSVector.verifyAt)
            #expect(!outcome.checks.isEmpty && outcome.checks.allSatisfy(\.passed), "\(outcome.checks)")
        }
    }

    @Test("nothing is fetched that the evidence or configuration gives: a configured VCEK serves a masked chip too")
    func configuredVCEK() async throws {
        let kds = try FakePCCS()
        let chain = try milanChain
        let vcek = Array(try Data(contentsOf: TestEnvironment.vector(KDSVector.vcek)))
        let report = Array(try Data(contentsOf: TestEnvironment.vector(KDSVector.report)))
        var masked = report
        masked[0x48] |= 2
        let reports = [report, masked]
        let anchors = TrustStore.FormatTrust(
            roots: [chain[1]], collateral: [chain[0].derRepresentation, vcek])
        try await kds.serving { base in
            let cache = try AMDKDSCache(
                client: AMDKDSClient(baseURL: base, requestTimeout: patience),
                directory: TestEnvironment.temporaryDirectory("kds-configured").path)
            for report in reports {
                guard case .read(let evidence, _) = SEVSNPReportVerifier().read(report, cache: nil) else {
                    Issue.record("the report does not read")
                    return
                }
                let (trust, crlPublished) = try await cache.endorsement(
                    for: evidence, product: .milan, adding: anchors, at: KDSVector.verifyAt)
                #expect(trust.collateral == anchors.collateral && !crlPublished)
            }
            #expect(kds.requested == ["/vcek/v1/Milan/crl"], "only the CRL, whose absence is then remembered")
        }
    }

    @Test("a cache file that does not read, or is another chip's VCEK, is fetched again")
    func corruptFiles() async throws {
        let kds = try FakePCCS()
        let directory = try TestEnvironment.temporaryDirectory("kds-corrupt").path
        let key = try AMDVCEKKey(report: trusteeReport, product: .milan)
        let other = AMDVCEKKey(product: .milan, hardwareID: key.hardwareID, tcb: key.tcb + 1)
        try await kds.serving { base in
            let cache = try AMDKDSCache(
                client: AMDKDSClient(baseURL: base, requestTimeout: patience), directory: directory)
            let vcek = try await cache.vcek(for: key)
            let files = try FileManager.default.contentsOfDirectory(atPath: directory)
            let file = directory + "/" + (try #require(files.first { $0.hasPrefix("vcek-Milan-") }))
            #expect(file.hasSuffix("-7308000000000003.der"))
            for corrupt in [Data("garbage".utf8), Data(vcek.dropLast())] {
                try corrupt.write(to: URL(fileURLWithPath: file))
                #expect(try await cache.vcek(for: key) == vcek)
            }
            #expect(kds.requested.count == 3)
            await #expect {
                _ = try await cache.vcek(for: other)
            } throws: { error in
                (error as? KDSError)?.code == .unavailable && (error as? KDSError)?.reason.contains("404") == true
            }
        }
    }

    @Test("HTTP 429 is retried after its Retry-After, at most twice and within the bound, then refused")
    func rateLimit() async throws {
        let kds = try FakePCCS()
        let key = try AMDVCEKKey(report: trusteeReport, product: .milan)
        try await kds.serving { base in
            kds.set(.status(429, retryAfter: 1), for: "/vcek/v1/Milan/c3")
            let client = try AMDKDSClient(baseURL: base, requestTimeout: patience)
            await #expect {
                _ = try await client.vcek(for: key)
            } throws: { error in
                guard let error = error as? KDSError else { return false }
                return error.code == .rateLimited
                    && error.reason.hasPrefix("GET \(base)\(KDSVector.vcekPath) answered HTTP 429 Too Many Requests")
                    && error.reason.contains("after 3 requests")
            }
            #expect(kds.requested.count == 3)

            kds.set(.status(429, retryAfter: 3600), for: "/vcek/v1/Milan/c3")
            var bounded = try AMDKDSClient(baseURL: base, requestTimeout: patience, maximumRetries: 1)
            bounded.maximumRetryDelay = .seconds(1)
            let start = ContinuousClock.now
            await #expect(throws: KDSError.self) { _ = try await bounded.vcek(for: key) }
            #expect(ContinuousClock.now - start < .seconds(60), "Retry-After capped at the bound")
            #expect(kds.requested.count == 5)

            kds.set(nil, for: "/vcek/v1/Milan/c3")
            #expect(try await client.vcek(for: key) != nil)
        }
    }

    @Test("every wrong answer is refused naming the URL and what was wrong")
    func wrongAnswers() async throws {
        let kds = try FakePCCS()
        let key = try AMDVCEKKey(report: trusteeReport, product: .milan)
        let chain = "/vcek/v1/Milan/cert_chain"
        let crl = "/vcek/v1/Milan/crl"
        let cases: [(path: String, fault: FakePCCS.Fault, code: KDSError.Code, says: String)] = [
            (KDSVector.vcekPath, .status(500), .unavailable, "answered HTTP 500 Internal Server Error"),
            (
                KDSVector.vcekPath, .oversized(128 << 10, streamed: false), .badResponse,
                "the body of 131072 bytes is over the 65536-byte limit"
            ),
            (KDSVector.vcekPath, .body("<html>busy</html>"), .badResponse, "the body is not a DER certificate"),
            (chain, .body("-----BEGIN CERTIFICATE-----"), .badResponse, "is not two PEM certificates"),
            (chain, .status(404), .unavailable, "answered HTTP 404 Not Found"),
            (crl, .body("not a CRL"), .badResponse, "the body is not a DER CRL"),
        ]
        try await kds.serving { base in
            let client = try AMDKDSClient(baseURL: base, maximumResponseSize: 64 << 10, requestTimeout: patience)
            for (path, fault, code, says) in cases {
                kds.set(fault, for: path)
                defer { kds.set(nil, for: path) }
                let cache = try AMDKDSCache(
                    client: client, directory: TestEnvironment.temporaryDirectory("kds-wrong").path)
                do {
                    switch path {
                    case chain: _ = try await cache.certificateChain(for: .milan)
                    case crl: _ = try await cache.revocationList(for: .milan, at: KDSVector.verifyAt)
                    default: _ = try await cache.vcek(for: key)
                    }
                    Issue.record("\(path) answered with \(fault) was accepted")
                } catch let error as KDSError {
                    #expect(error.code == code, "\(path) \(fault): \(error)")
                    #expect(error.reason.contains("GET \(base)\(path)"), "\(error.reason)")
                    #expect(error.reason.contains(says), "\(error.reason)")
                }
            }
        }
    }
}
