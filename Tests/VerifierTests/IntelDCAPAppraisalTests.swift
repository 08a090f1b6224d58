import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing
import Verifier

/// The SGX v3 and TDX v4 vectors with their collateral, the time they verify at, and what Intel's collateral says of
/// them (as dcap-qvl decides: README of Tests/Vectors/testvectors).
private let dcapCases:
    [(quote: String, collateral: String, format: EvidenceFormat, status: TCBStatus, advisories: [String])] = [
        (
            "sgx/sgx_quote", "sgx/sgx_quote_collateral.json", .sgx, .configurationAndSWHardeningNeeded,
            ["INTEL-SA-00289", "INTEL-SA-00615"]
        ),
        ("sgx/tdx_quote", "sgx/tdx_quote_collateral.json", .tdx, .upToDate, []),
    ]
private let verifyAt = Date(timeIntervalSince1970: 1_751_328_000)  // 2025-07-01T00:00:00Z

/// Intel's SGX Root CA, as the quotes' chains end (pinned by its published fingerprint below).
private func intelRoot() throws -> X509Certificate {
    try #require(try pckChain(of: IntelDCAPQuote(vectorBytes("sgx/sgx_quote"))).last)
}

private func trust(
    _ format: EvidenceFormat, roots: [X509Certificate]? = nil, collateral: [[UInt8]]
) throws -> TrustStore {
    TrustStore([format: TrustStore.FormatTrust(roots: try roots ?? [intelRoot()], collateral: collateral)])
}

private func outcome(
    _ quote: [UInt8], _ format: EvidenceFormat, collateral: [[UInt8]], roots: [X509Certificate]? = nil,
    at time: Date = verifyAt, cache: EvidenceCache? = nil
) throws -> EvidenceVerifier.Outcome {
    try EvidenceVerifier(trust: trust(format, roots: roots, collateral: collateral), cache: cache)
        .verify(quote, at: time)
}

private func failed(_ outcome: EvidenceVerifier.Outcome) -> [String] {
    outcome.checks.filter { !$0.passed }.map(\.name)
}

@Suite("Intel DCAP quotes appraised: every check, the TCB status, the claims and the policy keys")
struct IntelDCAPAppraisalTests {
    @Test("Intel's root in the quotes is the one Intel publishes")
    func rootFingerprint() throws {
        #expect(hexEncoded(try intelRoot().sha256Fingerprint) == TrustStore.intelSGXRootCAFingerprint)
    }

    @Test("the SGX v3 quote is ConfigurationAndSWHardeningNeeded with two advisories, the TDX v4 quote UpToDate")
    func vectors() throws {
        for vector in dcapCases {
            let result = try outcome(
                vectorBytes(vector.quote), vector.format, collateral: [vectorBytes(vector.collateral)])
            #expect(result.format == vector.format)
            #expect(failed(result).isEmpty, "\(vector.quote): \(result.checks.filter { !$0.passed })")
            var names = [
                "decode", "signature", "qe-report-signature", "attestation-key-binding", "pck-extensions",
                "collateral", "tcb-info-signature", "qe-identity-signature", "revocation-lists", "certificate-chain",
                "collateral-current", "tcb-info-platform", "qe-identity",
            ]
            if vector.format == .tdx { names.append("tdx-module") }
            names.append("tcb-level")
            #expect(result.checks.map(\.name) == names)
            #expect(result.warnings.isEmpty)
            let claims = try #require(result.claims)
            #expect(claims.tcbStatus == vector.status && claims.advisoryIDs == vector.advisories)
            #expect(!claims.simulated && claims.timestamp == nil && claims.reportData?.count == 128)
        }
    }

    @Test("the claims carry SGX's identity and TDX's registers as dcap-qvl decodes them")
    func claims() throws {
        let sgx = try #require(
            try outcome(vectorBytes("sgx/sgx_quote"), .sgx, collateral: [vectorBytes(dcapCases[0].collateral)]).claims)
        let sgxQuote = try IntelDCAPQuote(vectorBytes("sgx/sgx_quote"))
        guard case .sgx(let body) = sgxQuote.body else { Issue.record("not SGX"); return }
        #expect(sgx.measurement == hexEncoded(body.mrEnclave) && sgx.signer == hexEncoded(body.mrSigner))
        #expect(sgx.productID == body.isvProdID && sgx.svn == body.isvSVN && sgx.debug == body.isDebug)
        #expect(sgx.details.referenceValues["mr_signer"] == hexEncoded(body.mrSigner))
        let tdx = try #require(
            try outcome(vectorBytes("sgx/tdx_quote"), .tdx, collateral: [vectorBytes(dcapCases[1].collateral)]).claims)
        let tdxQuote = try IntelDCAPQuote(vectorBytes("sgx/tdx_quote"))
        guard case .td(let report) = tdxQuote.body else { Issue.record("not TDX"); return }
        #expect(tdx.measurement == hexEncoded(report.mrTD))
        #expect(tdx.details.referenceValues["rtmr3"] == hexEncoded(report.rtmrs[3]))
        #expect(tdx.details.referenceValues["mr_config_id"] == hexEncoded(report.mrConfigID))
        let encoded = try JSONSerialization.jsonObject(with: JSONEncoder().encode(tdx)) as? [String: Any]
        #expect(encoded?["tcb_status"] as? String == "up-to-date" && encoded?["fmspc"] as? String == "b0c06f000000")
    }

    @Test("the v5 quote's own signatures verify, and its PCK chain reaches Intel's root")
    func versionFive() throws {
        let quote = try IntelDCAPQuote(vectorBytes("sgx/trustee-tdx-quote-v5.dat"))
        let chain = try pckChain(of: quote)
        let checks = quote.signatureChecks(pckCertificate: chain[0])
        #expect(checks.filter { !$0.passed }.isEmpty)
        let path = try CertificateChainVerifier(trustAnchors: [intelRoot()])
            .verify(leaf: chain[0], intermediates: Array(chain.dropFirst()), at: chain[0].notValidBefore + 86_400)
        #expect(path.last == (try intelRoot()))
    }

    @Test("each check fails alone: quote signature, QE report, no collateral, another root, a late appraisal")
    func negatives() throws {
        let quote = try vectorBytes("sgx/sgx_quote")
        let collateral = try vectorBytes(dcapCases[0].collateral)
        var flipped = quote
        flipped[100] ^= 1  // the report body: only the quote's signature covers it
        #expect(failed(try outcome(flipped, .sgx, collateral: [collateral])) == ["signature"])
        let reportStart = 48 + 384 + 4 + 128
        var qeReport = quote
        qeReport[reportStart + 320] ^= 1  // the QE report's data: its signature and the key binding
        #expect(
            failed(try outcome(qeReport, .sgx, collateral: [collateral]))
                == ["qe-report-signature", "attestation-key-binding"])
        var authenticationData = quote
        authenticationData[reportStart + 384 + 64 + 2] ^= 1  // QE authentication data: only the binding covers it
        #expect(failed(try outcome(authenticationData, .sgx, collateral: [collateral])) == ["attestation-key-binding"])
        #expect(failed(try outcome(quote, .sgx, collateral: [])) == ["collateral", "certificate-chain"])
        let tdxCollateral = try vectorBytes(dcapCases[1].collateral)
        #expect(failed(try outcome(quote, .sgx, collateral: [tdxCollateral])) == ["collateral", "certificate-chain"])
        let other = try notIntelRoot(around: verifyAt)
        #expect(
            failed(try outcome(quote, .sgx, collateral: [collateral], roots: [other]))
                == ["tcb-info-signature", "qe-identity-signature", "revocation-lists", "certificate-chain"])
        let late = verifyAt.addingTimeInterval(40 * 86_400)  // past the TCB info's and the CRLs' next update
        #expect(failed(try outcome(quote, .sgx, collateral: [collateral], at: late)).contains("collateral-current"))
    }

    @Test("tamper matrix: every byte of the SGX v3 and TDX v4 quotes, flipped one bit at a time, is refused, named")
    func tamperMatrix() throws {
        for vector in dcapCases {
            let quote = try vectorBytes(vector.quote)
            let verifier = EvidenceVerifier(
                trust: try trust(vector.format, collateral: [vectorBytes(vector.collateral)]))
            expectTamperMatrixRefused(vector.quote, quote) { verifier.verify($0, format: vector.format, at: verifyAt) }
        }
    }

    @Test(
        "tamper matrix, TDX v5 (no collateral): each flip fails decoding, a signature or the PCK chain, named"
    )
    func tamperMatrixVersionFive() throws {
        let quote = try vectorBytes("sgx/trustee-tdx-quote-v5.dat")
        let root = try intelRoot()
        let time = try pckChain(of: IntelDCAPQuote(quote))[0].notValidBefore + 86_400
        /// The first step that refuses `bytes`, its reason, and whether the reason names what failed: the part of the
        /// quote it could not read, the PEM block or line, the key or certificate a signature failed with, or the
        /// certificate (by its subject) that broke the chain. Nil when every step holds.
        func refusal(_ bytes: [UInt8]) -> (step: String, reason: String, named: Bool)? {
            let parsed: IntelDCAPQuote
            do { parsed = try IntelDCAPQuote(bytes) } catch {
                return ("decoding", error.reason, error.reason.hasPrefix("the evidence "))
            }
            let chain: [X509Certificate]
            do { chain = try pckChain(of: parsed) } catch {
                return ("pck-chain", "\(error)", "\(error)".contains(" of the PEM certificate chain"))
            }
            if let failed = parsed.signatureChecks(pckCertificate: chain[0]).first(where: { !$0.passed }) {
                return (
                    "\(failed.name)", failed.detail,
                    failed.detail.contains(/(attestation|P-256|public) key|PCK certificate/)
                )
            }
            do {
                let path = try CertificateChainVerifier(trustAnchors: [root])
                    .verify(leaf: chain[0], intermediates: Array(chain.dropFirst()), at: time)
                guard chain.last == path.last else {
                    return (
                        "certificate-chain", "the chain ends at certificate \(chain.last!.subject), not its root", true
                    )
                }
            } catch let error as CertificateChainError {
                return (
                    "certificate-chain", "\(error)", error.certificate.map { "\(error)".contains("\($0)") } ?? false
                )
            } catch {
                return ("certificate-chain", "\(error)", false)
            }
            return nil
        }
        #expect(refusal(quote) == nil)
        var steps: [String: Int] = [:]
        var accepted: [Int] = []
        var vague: [(Int, String)] = []
        for position in quote.indices {
            var flipped = quote
            flipped[position] ^= 1
            guard let refused = refusal(flipped) else {
                accepted.append(position)
                continue
            }
            steps[refused.step, default: 0] += 1
            if !refused.named { vague.append((position, "\(refused.step): \(refused.reason)")) }
        }
        let tally = steps.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print(
            "trustee-tdx-quote-v5.dat: \(quote.count) flips tried, \(quote.count - accepted.count) refused (\(tally))")
        #expect(accepted.isEmpty, "flips at \(accepted.prefix(40)) held")
        #expect(vague.isEmpty, "refused without naming what failed: \(vague.prefix(10))")
    }

    @Test("the PCK chain must carry Intel's root itself, as Intel's QVL requires, and be PEM blocks and nothing else")
    func carriedRoot() throws {
        let quote = try vectorBytes("sgx/sgx_quote")
        let collateral = try vectorBytes(dcapCases[0].collateral)
        let chain = try pckChain(of: IntelDCAPQuote(quote))
        func pem(_ certificates: [X509Certificate]) -> [UInt8] {
            Array(
                certificates.map {
                    "-----BEGIN CERTIFICATE-----\n"
                        + Data($0.derRepresentation).base64EncodedString(
                            options: [.lineLength64Characters, .endLineWithLineFeed])
                        + "\n-----END CERTIFICATE-----\n"
                }.joined().utf8)
        }
        let withoutRoot = try outcome(
            replacingChain(of: quote, with: pem(Array(chain.dropLast()))), .sgx, collateral: [collateral])
        #expect(failed(withoutRoot) == ["certificate-chain"])
        #expect(withoutRoot.checks.contains { $0.detail.contains("not with the pinned root") })
        let reordered = try outcome(
            replacingChain(of: quote, with: pem([chain[0], chain[2], chain[1]])), .sgx, collateral: [collateral])
        #expect(failed(reordered) == ["certificate-chain"])
        let commented = try outcome(
            replacingChain(of: quote, with: Array("Intel SGX PCK chain\n".utf8) + pem(chain)), .sgx,
            collateral: [collateral])
        #expect(failed(commented) == ["certificate-chain"])
        #expect(commented.checks.contains { $0.detail.contains("line 1 of the PEM certificate chain") })
        #expect(try outcome(replacingChain(of: quote, with: pem(chain)), .sgx, collateral: [collateral]).passed)
    }

    @Test("after the signature data only zeros may follow, and each structure fills what holds it")
    func padding() throws {
        let quote = try vectorBytes("sgx/tdx_quote")
        let collateral = try vectorBytes(dcapCases[1].collateral)
        #expect(try outcome(quote + [0, 0], .tdx, collateral: [collateral]).passed)
        let stray = try outcome(quote + [0, 7], .tdx, collateral: [collateral])
        #expect(failed(stray) == ["decode"])
        #expect(stray.checks[0].detail.contains("byte \(quote.count + 1), after the signature data, is 7"))
        var longer = quote
        longer[48 + 584] &+= 1  // the signature data's length: one byte past the structure it holds
        let refused = try outcome(longer, .tdx, collateral: [collateral])
        #expect(failed(refused) == ["decode"] && refused.checks[0].detail.contains("before its stated length"))
    }

    @Test("a second appraisal from the cache decides the same; a changed quote and a late one are not served from it")
    func cache() throws {
        let cache = EvidenceCache()
        let quote = try vectorBytes("sgx/tdx_quote")
        let collateral = try vectorBytes(dcapCases[1].collateral)
        let first = try outcome(quote, .tdx, collateral: [collateral], cache: cache)
        let second = try outcome(quote, .tdx, collateral: [collateral], cache: cache)
        #expect(first.checks.map(\.name) == second.checks.map(\.name) && first.claims == second.claims)
        #expect(second.passed)
        var reportData = quote
        reportData[48 + 520] ^= 1  // the TD report's data: only the quote's signature covers it
        #expect(failed(try outcome(reportData, .tdx, collateral: [collateral], cache: cache)) == ["signature"])
        var attestationKey = quote
        attestationKey[48 + 584 + 4 + 64] ^= 1  // the attestation key, read once per key with a cache
        #expect(
            failed(try outcome(attestationKey, .tdx, collateral: [collateral], cache: cache))
                == ["signature", "attestation-key-binding"])
        let late = try outcome(quote, .tdx, collateral: [collateral], at: verifyAt + 60 * 86_400, cache: cache)
        #expect(!late.passed)
    }

    @Test("policy: TCB statuses and advisories, debug, claims and the report-data binding")
    func policy() throws {
        let quote = try vectorBytes("sgx/sgx_quote")
        let collateral = try vectorBytes(dcapCases[0].collateral)
        let appraiser = Appraiser(
            evidence: EvidenceVerifier(trust: try trust(.sgx, collateral: [collateral])),
            signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "test"))
        let parsed = try IntelDCAPQuote(quote)
        guard case .sgx(let body) = parsed.body else { Issue.record("not SGX"); return }
        func appraise(_ policy: String, nonce: [UInt8]? = nil) throws -> AttestationResult {
            appraiser.evaluate(quote, policy: try Policy(text: policy), expectedNonce: nonce, at: verifyAt)
        }
        func failing(_ result: AttestationResult) -> [String] { result.checks.filter { !$0.passed }.map(\.name) }
        let measured = #"id = "p"\#nmeasurements = ["\#(hexEncoded(body.mrEnclave))"]\#n"#
        let strict = try appraise(measured)
        #expect(strict.status == .contraindicated && failing(strict) == ["tcb-status-accepted", "advisories"])
        let accepting =
            measured + #"acceptable_tcb_statuses = ["up-to-date", "configuration-and-sw-hardening-needed"]"# + "\n"
        #expect(failing(try appraise(accepting)) == ["advisories"])
        let tolerated = try appraise(accepting + #"allowed_advisory_ids = ["INTEL-SA-00289", "INTEL-SA-00615"]"#)
        #expect(failing(tolerated).isEmpty && tolerated.status == .warning)
        let warned = try appraise(accepting + #"other_advisories = "warning""#)
        #expect(failing(warned).isEmpty && warned.status == .warning && warned.warnings.count == 2)
        let claimed = try appraise(
            accepting + #"other_advisories = "warning""#
                + "\n[claims]\nmr_signer = [\"\(hexEncoded(body.mrSigner))\"]\n"
                + "rtmr0 = [\"00\"]\n")
        #expect(failing(claimed) == ["claim-rtmr0"])
        #expect(claimed.checks.contains { $0.name == "claim-mr_signer" && $0.passed })
        #expect(throws: PolicyError.self) { try Policy(text: "id = \"p\"\n[claims]\nmr_enclav = [\"00\"]\n") }
        // The quote's report data, read as each binding would produce it.
        let reportData = body.reportData
        let bound = accepting + #"other_advisories = "warning""# + "\n"
        #expect(failing(try appraise(bound + #"report_data_binding = "raw""#, nonce: reportData)).isEmpty)
        #expect(
            failing(try appraise(bound + #"report_data_binding = "raw""#, nonce: Array(reportData.prefix(32))))
                == (reportData.suffix(32).allSatisfy { $0 == 0 } ? [] : ["nonce"]))
        #expect(failing(try appraise(bound + #"report_data_binding = "sha512-nonce""#, nonce: [1, 2])) == ["nonce"])
        #expect(failing(try appraise(bound + #"report_data_binding = "cloister""#, nonce: [1, 2])) == ["nonce"])
        #expect(throws: PolicyError.self) { try Policy(text: "id = \"p\"\nreport_data_binding = \"sha256\"\n") }
    }

    @Test("the report-data bindings: raw pads, sha512-nonce hashes, cloister binds the nonce in its first half")
    func bindings() throws {
        let nonce: [UInt8] = Array(0..<20)
        #expect(ReportDataBinding.raw.binds(nonce: nonce, in: nonce + [UInt8](repeating: 0, count: 44)))
        #expect(!ReportDataBinding.raw.binds(nonce: nonce, in: nonce + [UInt8](repeating: 1, count: 44)))
        #expect(ReportDataBinding.sha512Nonce.binds(nonce: nonce, in: DigestAlgorithm.sha512.hash(nonce)))
        let cloister = ReportDataBinding.cloisterReportData(nonce: nonce, userData: [7], publicKey: [9, 9])
        #expect(ReportDataBinding.cloister.binds(nonce: nonce, in: cloister))
        #expect(!ReportDataBinding.cloister.binds(nonce: nonce + [0], in: cloister))
        #expect(cloister != ReportDataBinding.cloisterReportData(nonce: nonce, userData: [7, 9], publicKey: [9]))
    }
}

/// The SGX v3 quote `quote` with its PCK certificate chain replaced by `chain` (which no signature covers), every
/// length that holds it adjusted.
private func replacingChain(of quote: [UInt8], with chain: [UInt8]) throws -> [UInt8] {
    let signatureDataStart = 48 + 384 + 4
    let authenticationDataAt = signatureDataStart + 128 + 384 + 64
    let chainLengthAt =
        authenticationDataAt + 2 + Int(quote[authenticationDataAt]) + Int(quote[authenticationDataAt + 1]) << 8 + 2
    let old = try IntelDCAPQuote(quote).pckCertificateChain
    try #require(quote.count - chainLengthAt - 4 >= old.count)
    func littleEndian(_ value: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    let body = Array(quote[signatureDataStart..<chainLengthAt]) + littleEndian(chain.count) + chain
    return Array(quote[..<(signatureDataStart - 4)]) + littleEndian(body.count) + body
}
