import Attestation
import CloisterCrypto
import Foundation
import SimulatedHardware
import Testing

@Suite("Simulated Intel PCS v4: each route's status, headers and body, as dcap-qvl and PCCSs fetch them")
struct SimulatedIntelPCSTests {
    private static func fixture() throws -> (SimulatedIntelCollateral, SimulatedPCS) {
        let vendor = try SimulatedIntelVendor.create(platformID: intelPlatformID(20), at: intelCreated)
        let collateral = try vendor.publish(SimulatedTCB(level: 1, latestLevel: 2, isRevoked: true), at: intelNow)
        return (collateral, SimulatedPCS(collateral: collateral))
    }

    private static func chain(_ response: SimulatedHTTPResponse, _ header: String) throws -> [X509Certificate] {
        let encoded = try #require(response.header(header), "\(header) is missing")
        let pem = try #require(encoded.removingPercentEncoding)
        #expect(!encoded.contains("\n") && !encoded.contains(" "), "the chain in \(header) is URL-encoded")
        return try X509Certificate.certificates(fromPEM: pem)
    }

    @Test("pckcrl?ca=platform: the PCK CRL in DER (encoding=der) or PEM, its issuer chain in SGX-PCK-CRL-Issuer-Chain")
    func pckCRL() throws {
        let (collateral, pcs) = try Self.fixture()
        let der = pcs.respond(path: "/sgx/certification/v4/pckcrl", query: ["ca": "platform", "encoding": "der"])
        #expect(der.status == 200)
        #expect(der.body == collateral.pckCRL.derRepresentation)
        #expect(
            try Self.chain(der, "SGX-PCK-CRL-Issuer-Chain") == [
                collateral.pckCACertificate, collateral.rootCertificate,
            ])
        let listed = try CertificateRevocationList(derRepresentation: der.body)
        #expect(listed.entry(for: collateral.pckCertificate) != nil)
        let pem = pcs.respond(path: "/sgx/certification/v4/pckcrl", query: ["ca": "platform"])
        #expect(pem.status == 200)
        #expect(try CertificateRevocationList(pemRepresentation: String(decoding: pem.body, as: UTF8.self)) == listed)
    }

    @Test("pckcrl: ca=processor is 404 (no Processor CA), any other ca or encoding 400")
    func pckCRLRefusals() throws {
        let (_, pcs) = try Self.fixture()
        #expect(pcs.respond(path: "/sgx/certification/v4/pckcrl", query: ["ca": "processor"]).status == 404)
        for query in [["ca": "nobody"], [:], ["ca": "platform", "encoding": "base64"]] {
            let response = pcs.respond(path: "/sgx/certification/v4/pckcrl", query: query)
            #expect(response.status == 400, "\(query)")
            #expect(response.header("Error-Code") == "InvalidRequestSyntax")
        }
    }

    @Test("tcb?fmspc=: {tcbInfo, signature} exactly as signed, the chain in TCB-Info-Issuer-Chain (SGX: and SGX-…)")
    func tcbInfo() throws {
        let (collateral, pcs) = try Self.fixture()
        for tee in [IntelDCAPQuoteHeader.TEE.sgx, .tdx] {
            let path = "/\(tee == .sgx ? "sgx" : "tdx")/certification/v4/tcb"
            for fmspc in [hexEncoded(collateral.fmspc).uppercased(), hexEncoded(collateral.fmspc)] {
                let response = pcs.respond(path: path, query: ["fmspc": fmspc])
                #expect(response.status == 200)
                #expect(response.header("Content-Type") == "application/json")
                let signed = collateral.tcbInfo(tee)
                #expect(
                    response.body
                        == Array("{\"tcbInfo\":".utf8) + signed.json
                        + Array(",\"signature\":\"\(hexEncoded(signed.signature))\"}".utf8))
                let expected = [collateral.tcbSigningCertificate, collateral.rootCertificate]
                #expect(try Self.chain(response, "TCB-Info-Issuer-Chain") == expected)
                #expect((response.header("SGX-TCB-Info-Issuer-Chain") != nil) == (tee == .sgx))
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
                #expect((object["tcbInfo"] as? [String: Any])?["id"] as? String == tee.description)
            }
            #expect(pcs.respond(path: path, query: ["fmspc": "000000000000"]).status == 404)
            #expect(pcs.respond(path: path, query: ["fmspc": "00"]).status == 400)
            #expect(pcs.respond(path: path, query: [:]).status == 400)
        }
    }

    @Test("qe/identity: {enclaveIdentity, signature} of the TEE's QE, the chain in SGX-Enclave-Identity-Issuer-Chain")
    func qeIdentity() throws {
        let (collateral, pcs) = try Self.fixture()
        for tee in [IntelDCAPQuoteHeader.TEE.sgx, .tdx] {
            let response = pcs.respond(
                path: "/\(tee == .sgx ? "sgx" : "tdx")/certification/v4/qe/identity", query: ["update": "standard"])
            #expect(response.status == 200)
            let signed = collateral.qeIdentity(tee)
            #expect(
                response.body
                    == Array("{\"enclaveIdentity\":".utf8) + signed.json
                    + Array(",\"signature\":\"\(hexEncoded(signed.signature))\"}".utf8))
            #expect(
                try Self.chain(response, "SGX-Enclave-Identity-Issuer-Chain") == [
                    collateral.tcbSigningCertificate, collateral.rootCertificate,
                ])
        }
    }

    @Test("rootcacrl: the root CA CRL's DER in hex, as a PCCS serves it and dcap-qvl reads it (DER with encoding=der)")
    func rootCACRL() throws {
        let (collateral, pcs) = try Self.fixture()
        let hex = pcs.respond(path: "/sgx/certification/v4/rootcacrl", query: [:])
        #expect(hex.status == 200)
        #expect(hexDecoded(String(decoding: hex.body, as: UTF8.self)) == collateral.rootCACRL.derRepresentation)
        let der = pcs.respond(path: "/sgx/certification/v4/rootcacrl", query: ["encoding": "der"])
        #expect(der.body == collateral.rootCACRL.derRepresentation)
    }

    @Test("any other route is 404 with a JSON error naming it")
    func unknownRoute() throws {
        let (_, pcs) = try Self.fixture()
        for path in ["/", "/sgx/certification/v3/tcb", "/tdx/certification/v4/pckcrl", "/sgx/certification/v4/pckcert"]
        {
            let response = pcs.respond(path: path, query: [:])
            #expect(response.status == 404, "\(path)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
            let message = try #require((object["error"] as? [String: Any])?["message"] as? String)
            #expect(message.contains(path))
        }
    }
}
