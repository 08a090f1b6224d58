import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing
import VendorCollateral

/// The verdict of an appraisal of `vector`'s quote with `collateral` at `verifyAt`: each check's name and outcome,
/// and the TCB status.
private func verdict(_ vector: DCAPVector, collateral: [UInt8]) throws -> (checks: [String], status: TCBStatus?) {
    let quote = try vector.quoteBytes
    let root = try #require(
        try X509Certificate.certificates(
            fromPEM: String(decoding: IntelDCAPQuote(quote).pckCertificateChain, as: UTF8.self)
        ).last)
    let format: EvidenceFormat = try vector.key.tee == .sgx ? .sgx : .tdx
    let trust = TrustStore([format: TrustStore.FormatTrust(roots: [root], collateral: [collateral])])
    let outcome = EvidenceVerifier(trust: trust).verify(quote, at: verifyAt)
    return (outcome.checks.map { "\($0.passed ? "pass" : "FAIL") \($0.name)" }, outcome.claims?.tcbStatus)
}

@Suite("collateral fetched from a PCCS as dcap-qvl fetches it")
struct PCSClientTests {
    @Test("the SGX quote (Processor CA) and the TDX quote (Platform CA) name their TEE, FMSPC and CA")
    func keys() throws {
        #expect(
            try DCAPVector.sgx.key == PCSCollateralKey(tee: .sgx, fmspc: hexDecoded("00a067110000")!, ca: .processor))
        #expect(
            try DCAPVector.tdx.key == PCSCollateralKey(tee: .tdx, fmspc: hexDecoded("b0c06f000000")!, ca: .platform))
        #expect(try DCAPVector.sgx.key.description == "SGX FMSPC 00A067110000 (PCK processor CA)")
    }

    @Test(
        "fetched collateral is the vector's, field by field, TCB info and QE identity byte for byte",
        arguments: [DCAPVector.sgx, .tdx])
    func fetchedIsTheVector(_ vector: DCAPVector) async throws {
        let pccs = try FakePCCS()
        let key = try vector.key
        let (collateral, requested) = try await pccs.serving { base in
            let client = try PCSClient(baseURL: base + "/sgx/certification/v4/", requestTimeout: patience)
            return (try await client.collateral(for: key), pccs.requested)
        }
        let fetched = try JSONDecoder().decode([String: String].self, from: Data(collateral.json))
        let expected = try vector.fields
        #expect(fetched.keys.sorted() == expected.keys.sorted())
        for (field, value) in expected {
            #expect(fetched[field] == value, "\(field)")
        }
        #expect(Array(try #require(fetched["tcb_info"]).utf8) == Array(try #require(expected["tcb_info"]).utf8))
        #expect(collateral.key == key)
        // dcap-qvl's URLs, in its order.
        let tee = key.tee == .sgx ? "sgx" : "tdx"
        #expect(
            requested == [
                "/sgx/certification/v4/pckcrl?ca=\(key.ca.rawValue)&encoding=der",
                "/\(tee)/certification/v4/tcb?fmspc=\(key.fmspcHex)&update=standard",
                "/\(tee)/certification/v4/qe/identity?update=standard", "/sgx/certification/v4/rootcacrl",
            ])
        let fromFile = try verdict(vector, collateral: vector.collateralBytes)
        let fromPCCS = try verdict(vector, collateral: collateral.json)
        #expect(fromPCCS.checks == fromFile.checks && fromPCCS.status == fromFile.status)
        #expect(!fromFile.checks.contains { $0.hasPrefix("FAIL") }, "\(fromFile.checks)")
    }

    @Test("every wrong answer is refused naming the URL and what was wrong")
    func wrongAnswers() async throws {
        let pccs = try FakePCCS()
        let key = try DCAPVector.sgx.key
        let tcb = "/sgx/certification/v4/tcb?fmspc=00A067110000&update=standard"
        let qe = "/sgx/certification/v4/qe/identity?update=standard"
        let crl = "/sgx/certification/v4/pckcrl?ca=processor&encoding=der"
        let tdx = try DCAPVector.tdx.fields
        let tdxTCB = "{\"tcbInfo\":\(tdx["tcb_info"] ?? ""),\"signature\":\"\(tdx["tcb_info_signature"] ?? "")\"}"
        let cases: [(path: String, fault: FakePCCS.Fault, code: PCSError.Code, says: String)] = [
            (tcb, .status(404), .unavailable, "answered HTTP 404 Not Found"),
            (qe, .status(500), .unavailable, "answered HTTP 500 Internal Server Error"),
            (crl, .withoutIssuerChain, .badResponse, "header SGX-PCK-CRL-Issuer-Chain is missing"),
            (
                tcb, .withoutIssuerChain, .badResponse,
                "header SGX-TCB-Info-Issuer-Chain or TCB-Info-Issuer-Chain is missing"
            ),
            (
                tcb, .oversized(128 << 10, streamed: false), .badResponse,
                "the body of 131072 bytes is over the 65536-byte limit"
            ),
            (qe, .oversized(128 << 10, streamed: true), .badResponse, "the body is over the 65536-byte limit"),
            (qe, .body("{\"enclaveIdentity\": {\"id\": \"QE\"}, "), .badResponse, "the body is not a JSON object"),
            (
                qe, .body("<html>busy</html>"), .badResponse,
                "the body is not a JSON object: expected an object at byte 0"
            ),
            (
                tcb, .body("{\"tcbInfo\": {}, \"tcbInfo\": {}, \"signature\": \"00\"}"), .badResponse,
                "member \"tcbInfo\" appears twice"
            ),
            (tcb, .body("{\"tcbInfo\": {}, \"signature\": \"00\"}"), .badResponse, "64-byte ECDSA P-256 signature"),
            (
                tcb, .body(tdxTCB), .badResponse,
                "the TCB info is for TDX FMSPC B0C06F000000, not SGX FMSPC 00A067110000"
            ),
            (
                tcb,
                .body("{\"tcbInfo\": {\"id\": \"SGX\"}, \"signature\": \"\(String(repeating: "0", count: 128))\"}"),
                .badResponse, "the tcbInfo does not read"
            ),
            (crl, .body("not a CRL"), .badResponse, "the body is not a DER CRL"),
            ("/sgx/certification/v4/rootcacrl", .body("zz"), .badResponse, "the body is not a CRL in hex"),
        ]
        try await pccs.serving { base in
            let client = try PCSClient(baseURL: base, maximumResponseSize: 64 << 10, requestTimeout: patience)
            for (path, fault, code, says) in cases {
                pccs.set(fault, for: path)
                defer { pccs.set(nil, for: path) }
                do {
                    _ = try await client.collateral(for: key)
                    Issue.record("\(path) answered with \(fault) was accepted")
                } catch let error as PCSError {
                    #expect(error.code == code, "\(path) \(fault): \(error)")
                    #expect(error.reason.contains("GET \(base)\(path)"), "\(error.reason)")
                    #expect(error.reason.contains(says), "\(error.reason)")
                }
            }
        }
    }

    /// The message comes only from the request's deadline: the answer would take two minutes.
    @Test("an answer that stalls mid-body is cut off at the request timeout")
    func stalledAnswer() async throws {
        let pccs = try FakePCCS()
        pccs.set(.stall(120), for: "/pckcrl")
        try await pccs.serving { base in
            let client = try PCSClient(baseURL: base, requestTimeout: .seconds(2))
            await #expect {
                _ = try await client.collateral(for: DCAPVector.sgx.key)
            } throws: { error in
                (error as? PCSError)?.reason
                    == "GET \(base)/sgx/certification/v4/pckcrl?ca=processor&encoding=der did not complete within "
                    + "2.0 seconds"
            }
        }
    }

    @Test("an unreachable PCCS is named")
    func unreachable() async throws {
        let client = try PCSClient(baseURL: "http://127.0.0.1:1", connectTimeout: .seconds(5))
        await #expect {
            _ = try await client.collateral(for: DCAPVector.sgx.key)
        } throws: { error in
            guard let error = error as? PCSError else { return false }
            return error.code == .unavailable
                && error.reason.contains("http://127.0.0.1:1/sgx/certification/v4/pckcrl?ca=processor&encoding=der")
        }
    }

    @Test("base URLs: http and https only, with a host, no query; trailing slashes and the v4 path are dropped")
    func baseURLs() throws {
        for (given, base) in [
            ("https://api.trustedservices.intel.com", "https://api.trustedservices.intel.com"),
            ("https://pccs.example:8081/", "https://pccs.example:8081"),
            ("https://pccs.example:8081/sgx/certification/v4/", "https://pccs.example:8081"),
            ("http://pccs.example/tdx/certification/v4", "http://pccs.example"),
        ] {
            #expect(try PCSClient(baseURL: given).baseURL == base)
        }
        for refused in [
            "ftp://pccs.example", "pccs.example", "file:///etc/passwd", "https://", "https://pccs.example/?x=1",
        ] {
            #expect(throws: PCSError.self, "\(refused)") { try PCSClient(baseURL: refused) }
        }
    }

    @Test("Intel's SGX Root CA names the CRL distribution point dcap-qvl fetches its CRL from")
    func rootCRLDistributionPoint() throws {
        let root = try X509Certificate.certificates(
            fromPEM: String(
                contentsOf: TestEnvironment.vector("testvectors/sgx/intel-sgx-root-ca.pem"), encoding: .utf8))
        #expect(
            root.first?.crlDistributionPoints == ["https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"])
    }
}
