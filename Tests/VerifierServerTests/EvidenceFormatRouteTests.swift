import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import VerifierServer

@Suite("HTTP: evidence formats and media types from the format registry")
struct EvidenceFormatRouteTests {
    let fixture: ServiceFixture

    init() throws {
        fixture = try ServiceFixture()
    }

    private func vector(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: TestEnvironment.vector("testvectors/\(path)")))
    }

    /// The error code and message of a response.
    private func error(_ response: TestResponse) -> (code: String?, message: String) {
        let error = response.body.json["error"] as? [String: Any]
        return (error?["code"] as? String, error?["message"] as? String ?? "")
    }

    @Test(
        "a malformed SEV-SNP report is 422 malformed-evidence under any evidence type, naming the field; junk unknown")
    func unreadableEvidence() async throws {
        try await fixture.application(fixture.service(store: fixture.sqliteStore())).test(.router) { client in
            var report = try vector("snp/attestation.bin")
            report[0x0A] &= ~0x02  // the guest policy's bit 17, which must be 1
            for type in ["application/cbor", "application/octet-stream", EvidenceFormat.cloister.mediaType] {
                try await client.execute(
                    uri: "/v1/verify", method: .post, headers: [.contentType: type], body: ByteBuffer(bytes: report)
                ) { response in
                    #expect(response.status == .unprocessableContent, "as \(type)")
                    let (code, message) = error(response)
                    #expect(code == "malformed-evidence", "as \(type): \(message)")
                    #expect(message.contains("bit 17"), "\(message)")
                    #expect(!message.contains("COSE"), "\(message)")
                }
            }
            try await client.execute(
                uri: "/v1/verify", method: .post, headers: [.contentType: "application/octet-stream"],
                body: ByteBuffer(bytes: Array("not evidence".utf8))
            ) { response in
                #expect(response.status == .unprocessableContent)
                let (code, message) = error(response)
                #expect(code == "unknown-evidence-format")
                for name in EvidenceFormatRegistry.standard.verifiers.map(\.name) {
                    #expect(message.contains(name), "\(message)")
                }
            }
        }
    }

    @Test("DCAP quotes are appraised under their media types with the configured Intel root and collateral")
    func dcapQuotes() async throws {
        var trust = fixture.trust
        let root = try X509Certificate.certificates(
            fromPEM: String(decoding: try vector("sgx/intel-sgx-root-ca.pem"), as: UTF8.self))
        let collateral = [try vector("sgx/sgx_quote_collateral.json"), try vector("sgx/tdx_quote_collateral.json")]
        trust[.sgx] = TrustStore.FormatTrust(roots: root, collateral: collateral)
        trust[.tdx] = TrustStore.FormatTrust(roots: root, collateral: collateral)
        let service = AttestationService(store: try fixture.sqliteStore(), trust: trust, signer: fixture.signer)
        try await fixture.application(service).test(.router) { client in
            for (path, format) in [("sgx/sgx_quote", EvidenceFormat.sgx), ("sgx/tdx_quote", .tdx)] {
                try await client.execute(
                    uri: "/v1/verify", method: .post, headers: [.contentType: format.mediaType],
                    body: ByteBuffer(bytes: vector(path))
                ) { response in
                    #expect(response.status == .ok, "\(path)")
                    let checks = response.body.json["checks"] as? [[String: Any]] ?? []
                    let failed = checks.filter { $0["passed"] as? Bool == false }.compactMap { $0["name"] as? String }
                    // Appraised now, long after the vectors' collateral's next update: only its currency fails
                    // among the evidence checks (and the revocation lists and chain, whose CRLs expired too).
                    #expect(failed.contains("collateral-current"), "\(failed)")
                    #expect(!failed.contains("signature") && !failed.contains("decode"), "\(failed)")
                    #expect(response.body.json["format"] as? String == format.rawValue)
                }
            }
        }
    }

    @Test(
        "SEV-SNP reports are appraised under their media type with AMD's chain and the VCEK: every evidence check passes"
    )
    func snpReports() async throws {
        var trust = fixture.trust
        let chain = try X509Certificate.certificates(
            fromPEM: String(decoding: try vector("snp/milan_ask_ark_asvk.pem"), as: UTF8.self))
        trust[.snp] = TrustStore.FormatTrust(
            roots: chain.filter(\.isSelfSigned),
            collateral: chain.filter { !$0.isSelfSigned }.map(\.derRepresentation)
                + [try vector("snp/trustee-milan-vcek.der")])
        let service = AttestationService(store: try fixture.sqliteStore(), trust: trust, signer: fixture.signer)
        try await fixture.application(service).test(.router) { client in
            try await client.execute(
                uri: "/v1/verify", method: .post, headers: [.contentType: EvidenceFormat.snp.mediaType],
                body: ByteBuffer(bytes: try vector("snp/trustee-milan-report.bin"))
            ) { response in
                #expect(response.status == .ok)
                let checks = response.body.json["checks"] as? [[String: Any]] ?? []
                let passed = Dictionary(
                    checks.compactMap { check in (check["name"] as? String).map { ($0, check["passed"] as? Bool) } }
                ) { first, _ in first }
                for name in [
                    "decode", "endorsement-key", "signature", "certificate-chain", "product-line", "tcb-binding",
                ] {
                    #expect(passed[name] == true, "\(name): \(checks)")
                }
                #expect(response.body.json["format"] as? String == "snp")
            }
        }
    }

    @Test("a session refuses a malformed SEV-SNP report before spending its nonce, and then appraises the quote")
    func sessionKeepsNonce() async throws {
        try await fixture.application(fixture.service(store: fixture.sqliteStore())).test(.router) { client in
            try await client.execute(
                uri: "/v1/policies/default", method: .put, headers: ServiceFixture.admin,
                body: ByteBuffer(string: fixture.policyJSON)
            ) { #expect($0.status == .ok) }
            let session = try await client.execute(uri: "/challenge-response/v1/newSession", method: .post) {
                $0.body.json
            }
            let path = "/challenge-response/v1/session/\(try #require(session["id"] as? String))"
            let nonce = try #require(Data(base64Encoded: session["nonce"] as? String ?? ""))
            try await client.execute(
                uri: path, method: .post, headers: [.contentType: "application/cbor"],
                body: ByteBuffer(bytes: try vector("snp/trustee-milan-report.bin") + [0])
            ) { response in
                #expect(response.status == .unprocessableContent)
                #expect(error(response).code == "malformed-evidence")
            }
            try await client.execute(uri: path, method: .get) {
                #expect($0.body.json["status"] as? String == "waiting")
            }
            try await client.execute(
                uri: path, method: .post, headers: [.contentType: "application/cose"],
                body: ByteBuffer(bytes: fixture.quote(nonce: Array(nonce)))
            ) { response in
                #expect(response.status == .ok)
                #expect((response.body.json["appraisal"] as? [String: Any])?["status"] as? String == "affirming")
            }
        }
    }

    @Test("newSession's accept, the 415 refusal and the OpenAPI document list exactly the registry's media types")
    func mediaTypes() async throws {
        let registry = EvidenceFormatRegistry.standard
        let generic = VerifierRoutes.detectedEvidenceMediaTypes
        try await fixture.application(fixture.service(store: fixture.sqliteStore())).test(.router) { client in
            try await client.execute(uri: "/challenge-response/v1/newSession", method: .post) { response in
                #expect(response.body.json["accept"] as? [String] == registry.mediaTypes)
            }
            try await client.execute(
                uri: "/v1/verify", method: .post, headers: [.contentType: "application/json"],
                body: ByteBuffer(bytes: fixture.quote(nonce: nil))
            ) { response in
                #expect(response.status == .unsupportedMediaType)
                for type in registry.mediaTypes + generic {
                    #expect(error(response).message.contains(type), "\(type)")
                }
            }
            let document = try await client.execute(uri: "/openapi.json", method: .get) { $0.body.json }
            var evidenceBodies = 0
            for (path, item) in document["paths"] as? [String: Any] ?? [:] {
                for (method, operation) in item as? [String: Any] ?? [:] {
                    guard let body = (operation as? [String: Any])?["requestBody"] as? [String: Any],
                        let content = body["content"] as? [String: Any], content["application/cbor"] != nil
                    else { continue }
                    evidenceBodies += 1
                    #expect(Set(content.keys) == Set(registry.mediaTypes + generic), "\(method) \(path)")
                }
            }
            #expect(evidenceBodies == 2)
            let result = ((document["components"] as? [String: Any])?["schemas"] as? [String: Any])?["Result"]
            let format = ((result as? [String: Any])?["properties"] as? [String: Any])?["format"] as? [String: Any]
            #expect(format?["enum"] as? [String] == registry.formats.map(\.rawValue))
        }
    }
}
