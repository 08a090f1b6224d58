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
            let checks = read.checks(roots: [root], at: verifyAt)
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
            let checks = try collateral(changed).checks(roots: [root], at: verifyAt)
            #expect(checks.filter { !$0.passed }.map(\.name) == [failing], "\(name)")
        }
        let late = try collateral(fields).checks(roots: [root], at: verifyAt.addingTimeInterval(365 * 86_400))
        #expect(late.first { $0.name == "revocation-lists" }?.passed == false)
        let other = try notIntelRoot(around: verifyAt)
        let refused = try collateral(fields).checks(roots: [other], at: verifyAt)
        #expect(refused.allSatisfy { !$0.passed }, "\(refused.map(\.detail))")
    }

    @Test(
        "the SGX quote is ConfigurationAndSWHardeningNeeded with INTEL-SA-00289 and INTEL-SA-00615, the TDX quote UpToDate, as dcap-qvl decides"
    )
    func tcbStatus() throws {
        let expected: [(quote: String, collateral: String, TCBStatus, [String])] = [
            (
                "sgx/sgx_quote", collateralFiles[0], .configurationAndSWHardeningNeeded,
                ["INTEL-SA-00289", "INTEL-SA-00615"]
            ),
            ("sgx/tdx_quote", collateralFiles[1], .upToDate, []),
        ]
        for (quotePath, collateralPath, status, advisories) in expected {
            let quote = try IntelDCAPQuote(vectorBytes(quotePath))
            let read = try DCAPCollateral(json: try vectorBytes(collateralPath), source: collateralPath)
            let pck = try PCKCertificateExtensions(of: try pckChain(of: quote)[0])
            let (checks, evaluation) = quote.tcbChecks(
                pck: pck, tcbInfo: try DCAPTCBInfo(json: read.tcbInfo),
                qeIdentity: try DCAPQEIdentity(json: read.qeIdentity),
                at: verifyAt)
            let module = quotePath.contains("tdx") ? ["tdx-module"] : []
            #expect(
                checks.map(\.name) == ["collateral-current", "tcb-info-platform", "qe-identity"] + module + [
                    "tcb-level"
                ])
            let failed = checks.filter { !$0.passed }.map(\.detail)
            #expect(failed.isEmpty, "\(quotePath): \(failed)")
            #expect(evaluation?.status == status && evaluation?.advisoryIDs == advisories, "\(quotePath)")
        }
    }

    @Test("each TCB check fails alone: another FMSPC, another QE, a platform below every level, a late appraisal")
    func tcbNegatives() throws {
        let quote = try IntelDCAPQuote(vectorBytes("sgx/sgx_quote"))
        let read = try DCAPCollateral(json: try vectorBytes(collateralFiles[0]), source: "sgx")
        let pck = try PCKCertificateExtensions(of: try pckChain(of: quote)[0])
        func failing(tcbInfo: String? = nil, qeIdentity: String? = nil, at time: Date = verifyAt) throws -> [String] {
            let tcb = try DCAPTCBInfo(json: tcbInfo.map { Array($0.utf8) } ?? read.tcbInfo)
            let qe = try DCAPQEIdentity(json: qeIdentity.map { Array($0.utf8) } ?? read.qeIdentity)
            return quote.tcbChecks(pck: pck, tcbInfo: tcb, qeIdentity: qe, at: time).checks.filter { !$0.passed }
                .map(\.name)
        }
        let tcbText = String(decoding: read.tcbInfo, as: UTF8.self)
        let qeText = String(decoding: read.qeIdentity, as: UTF8.self)
        #expect(
            try failing(tcbInfo: tcbText.replacingOccurrences(of: "00A067110000", with: "00A067110001")) == [
                "tcb-info-platform"
            ])
        #expect(
            try failing(qeIdentity: qeText.replacingOccurrences(of: "\"isvprodid\":1", with: "\"isvprodid\":9")) == [
                "qe-identity"
            ])
        // Every level asks for PCESVN 99, which no platform reaches.
        #expect(try failing(tcbInfo: tcbText.replacing(/"pcesvn":\d+/, with: "\"pcesvn\":99")) == ["tcb-level"])
        #expect(try failing(at: verifyAt.addingTimeInterval(60 * 86_400)) == ["collateral-current"])
    }

    @Test("TDX: another module signer fails tdx-module alone, a revoked level or module fails tcb-level alone")
    func tdxNegatives() throws {
        let quote = try IntelDCAPQuote(vectorBytes("sgx/tdx_quote"))
        let read = try DCAPCollateral(json: try vectorBytes(collateralFiles[1]), source: "tdx")
        let pck = try PCKCertificateExtensions(of: try pckChain(of: quote)[0])
        let qe = try DCAPQEIdentity(json: read.qeIdentity)
        func failing(_ tcbInfo: String) throws -> [String] {
            quote.tcbChecks(pck: pck, tcbInfo: try DCAPTCBInfo(json: Array(tcbInfo.utf8)), qeIdentity: qe, at: verifyAt)
                .checks.filter { !$0.passed }.map(\.name)
        }
        let tcbText = String(decoding: read.tcbInfo, as: UTF8.self)
        #expect(try failing(tcbText).isEmpty)
        let zeros = String(repeating: "0", count: 96)
        #expect(
            try failing(
                tcbText.replacingOccurrences(
                    of: #""mrsigner":"\#(zeros)""#, with: #""mrsigner":"01\#(zeros.dropFirst(2))""#))
                == ["tdx-module"])
        #expect(try failing(tcbText.replacingOccurrences(of: "UpToDate", with: "Revoked")) == ["tcb-level"])
        #expect(
            try failing(tcbText.replacingOccurrences(of: #""id":"TDX_0"#, with: #""id":"TDX_9"#)) == [
                "tdx-module", "tcb-level",
            ])
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
            (
                badChain,
                "field qe_identity_issuer_chain is not a PEM chain (the signing certificate, then its issuers): "
                    + "block 1 of the PEM certificate chain: 3 bytes are not exactly one DER X.509 certificate"
            ),
        ]
        for (changed, expected) in cases {
            let error = #expect(throws: AttestationError.self) { try collateral(changed) }
            #expect(
                error?.reason.hasPrefix("the DCAP collateral c.json: \(expected)") == true, "\(error?.reason ?? "")")
        }
        let notJSON = #expect(throws: AttestationError.self) {
            try DCAPCollateral(json: Array("[1]".utf8), source: "c.json")
        }
        #expect(notJSON?.reason.contains("not a JSON object of the nine collateral fields") == true)
    }
}
