import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// The collateral files beside the SGX v3 and TDX v4 quotes, and the time they verify at.
private let collateralFiles = ["sgx/sgx_quote_collateral.json", "sgx/tdx_quote_collateral.json"]
private let verifyAt = Date(timeIntervalSince1970: 1_751_328_000)  // 2025-07-01T00:00:00Z

private func collateralJSON(_ path: String) throws -> [String: String] {
    try #require(try JSONSerialization.jsonObject(with: Data(vectorBytes(path))) as? [String: String])
}

private func collateral(_ fields: [String: String]) throws(AttestationError) -> DCAPCollateral {
    let data = (try? JSONSerialization.data(withJSONObject: fields)) ?? Data()
    return try DCAPCollateral(json: Array(data), source: "c.json")
}

/// Intel's SGX Root CA, as the quotes' chains end.
private func intelRoot() throws -> X509Certificate {
    try #require(try pckChain(of: IntelDCAPQuote(vectorBytes("sgx/sgx_quote"))).last)
}

@Suite("DCAP collateral: read, and its signatures, chains and CRLs checked")
struct DCAPCollateralTests {
    @Test("both collateral files read, and every check passes against Intel's root at 2025-07-01")
    func vectors() throws {
        let root = try intelRoot()
        for path in collateralFiles {
            let read = try DCAPCollateral(json: try vectorBytes(path), source: path)
            let checks = read.checks(root: root, at: verifyAt)
            #expect(checks.map(\.name) == ["tcb-info-signature", "qe-identity-signature", "revocation-lists"])
            let failed = checks.filter { !$0.passed }.map(\.detail)
            #expect(failed.isEmpty, "\(path): \(failed)")
            #expect(String(decoding: read.tcbInfo, as: UTF8.self).hasPrefix(#"{"id":""#), "\(path)")
        }
    }

    @Test("each check fails alone when what it covers changes, when the time is past the CRLs, or under another root")
    func negatives() throws {
        let root = try intelRoot()
        let fields = try collateralJSON(collateralFiles[1])
        var tcb = fields
        tcb["tcb_info"] = fields["tcb_info"]?.replacingOccurrences(of: "UpToDate", with: "OutOfDate")
        var qe = fields
        qe["qe_identity"] = fields["qe_identity"]?.replacingOccurrences(of: "\"isvprodid\":2", with: "\"isvprodid\":3")
        for (name, changed, failing) in [
            ("TCB info", tcb, "tcb-info-signature"), ("QE identity", qe, "qe-identity-signature"),
        ] {
            #expect(changed != fields, "\(name): the edit changed nothing")
            let checks = try collateral(changed).checks(root: root, at: verifyAt)
            #expect(checks.filter { !$0.passed }.map(\.name) == [failing], "\(name)")
        }
        let late = try collateral(fields).checks(root: root, at: verifyAt.addingTimeInterval(365 * 86_400))
        #expect(late.first { $0.name == "revocation-lists" }?.passed == false)
        let key = try ECPrivateKey(generating: .p256)
        let profile = CertificateProfile(
            subject: DistinguishedName(["CN": "Not Intel"]), notValidBefore: verifyAt.addingTimeInterval(-86_400),
            notValidAfter: verifyAt.addingTimeInterval(86_400), isCertificateAuthority: true,
            keyUsage: [.keyCertSign, .cRLSign])
        let other = try CertificateAuthority.selfSigned(profile, privateKey: key).certificate
        let refused = try collateral(fields).checks(root: other, at: verifyAt)
        #expect(refused.allSatisfy { !$0.passed }, "\(refused.map(\.detail))")
    }

    @Test("malformed collateral is refused naming the field")
    func malformed() throws {
        let fields = try collateralJSON(collateralFiles[0])
        var missing = fields
        missing["pck_crl"] = nil
        var badSignature = fields
        badSignature["tcb_info_signature"] = "00ff"
        var badCRL = fields
        badCRL["root_ca_crl"] = "zz"
        var badChain = fields
        badChain["qe_identity_issuer_chain"] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
        let cases: [([String: String], String)] = [
            (missing, "field pck_crl is missing"),
            (badSignature, "field tcb_info_signature is not a 64-byte ECDSA P-256 signature (r ‖ s) in hex"),
            (badCRL, "field root_ca_crl is not a DER CRL in hex"),
            (badChain, "field qe_identity_issuer_chain is not a PEM chain of at least two certificates"),
        ]
        for (changed, expected) in cases {
            let error = #expect(throws: AttestationError.self) { try collateral(changed) }
            #expect(error?.reason == "the DCAP collateral c.json: \(expected)", "\(error?.reason ?? "")")
        }
        let notJSON = #expect(throws: AttestationError.self) {
            try DCAPCollateral(json: Array("[1]".utf8), source: "c.json")
        }
        #expect(notJSON?.reason.contains("not a JSON object of the nine collateral fields") == true)
    }
}
