import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Learning
import Testing

/// The DCAP quote vectors of Tests/Vectors/testvectors/sgx with what their headers state.
let dcapVectors: [(path: String, version: UInt16, tee: IntelDCAPQuoteHeader.TEE, signedByteCount: Int)] = [
    ("sgx/sgx_quote", 3, .sgx, 48 + 384),
    ("sgx/tdx_quote", 4, .tdx, 48 + 584),
    ("sgx/trustee-tdx-quote-v5.dat", 5, .tdx, 48 + 6 + 648),
]

func vectorBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: TestEnvironment.vector("testvectors/\(path)")))
}

/// Runs `script` (under Tests/Interop) in the interop venv on `inputs`, as a JSON array, and returns the JSON array it
/// prints, one answer per input; nil, with the issue recorded, when there is no venv.
func dcapQVL(_ script: String, _ inputs: [String]) throws -> [Any]? {
    guard let python = TestEnvironment.python else {
        Issue.record("CLOISTER_PYTHON is not set: run `make test`, which installs dcap-qvl in .venv")
        return nil
    }
    let input = try JSONSerialization.data(withJSONObject: inputs)
    let output = try runTool(python, [TestEnvironment.interopScript(script)], input: Array(input))
    try #require(output.status == 0, "\(output.standardError)")
    let answers = try #require(
        try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [Any], "\(script)'s output")
    try #require(answers.count == inputs.count)
    return answers
}

/// A self-signed CA that is not Intel's root, valid a day either side of `time`: a root a relying party must not
/// mistake for Intel's.
func notIntelRoot(around time: Date) throws -> X509Certificate {
    let profile = CertificateProfile(
        subject: DistinguishedName(["CN": "Not Intel"]), notValidBefore: time.addingTimeInterval(-86_400),
        notValidAfter: time.addingTimeInterval(86_400), isCertificateAuthority: true,
        keyUsage: [.keyCertSign, .cRLSign])
    return try CertificateAuthority.selfSigned(profile, privateKey: ECPrivateKey(generating: .p256)).certificate
}

/// The PCK certificate chain a quote carries, leaf first.
func pckChain(of quote: IntelDCAPQuote) throws -> [X509Certificate] {
    try X509Certificate.certificates(fromChainPEM: quote.pckCertificateChain)
}

@Suite("Intel DCAP quotes decoded field by field, against dcap-qvl")
struct IntelDCAPQuoteTests {
    @Test("the SGX v3, TDX v4 and TDX v5 vectors decode whole, with the PCK chain in PEM")
    func vectors() throws {
        for vector in dcapVectors {
            let bytes = try vectorBytes(vector.path)
            let quote = try IntelDCAPQuote(bytes)
            #expect(quote.header.version == vector.version && quote.header.tee == vector.tee, "\(vector.path)")
            #expect(quote.signedBytes == Array(bytes[..<vector.signedByteCount]), "\(vector.path)")
            #expect(quote.signature.count == 64 && quote.attestationKey.count == 64 && quote.qeReportBytes.count == 384)
            let chain = String(decoding: quote.pckCertificateChain, as: UTF8.self)
            #expect(chain.hasPrefix("-----BEGIN CERTIFICATE-----"), "\(vector.path)")
            #expect(chain.components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1 == 3, "\(vector.path)")
            switch quote.body {
            case .sgx(let body):
                #expect(vector.tee == .sgx && !body.isDebug)
            case .td(let body):
                #expect(vector.tee == .tdx && body.rtmrs.count == 4 && !body.isDebug)
                #expect((body.mrServiceTD != nil) == (vector.version == 5), "\(vector.path): TD 1.5 fields")
            }
        }
        let sgx = try IntelDCAPQuote(try vectorBytes("sgx/sgx_quote"))
        #expect(sgx.qeSVN == 10 && sgx.pceSVN == 15)
    }

    @Test(
        "each vector's quote signature, QE report signature and key binding verify, and its chain reaches Intel's root")
    func signatures() throws {
        // Intel's SGX Root CA, the root dcap-qvl pins: the last certificate of every vector's chain.
        let intelRoot = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
        for vector in dcapVectors {
            let quote = try IntelDCAPQuote(try vectorBytes(vector.path))
            let chain = try pckChain(of: quote)
            let checks = quote.signatureChecks(pckCertificate: chain[0])
            #expect(checks.map(\.name) == ["signature", "qe-report-signature", "attestation-key-binding"])
            let failed = checks.filter { !$0.passed }.map(\.detail)
            #expect(failed.isEmpty, "\(vector.path): \(failed)")
            let root = try #require(chain.last)
            #expect(hexEncoded(root.sha256Fingerprint) == intelRoot, "\(vector.path)")
            let time = chain[0].notValidBefore.addingTimeInterval(86_400)
            let path = try CertificateChainVerifier(trustAnchors: [root])
                .verify(leaf: chain[0], intermediates: [chain[1]], at: time)
            #expect(path.count == 3, "\(vector.path)")
        }
    }

    @Test("each signature check fails on its own when what it covers changes")
    func signatureNegatives() throws {
        for vector in dcapVectors {
            let bytes = try vectorBytes(vector.path)
            let quote = try IntelDCAPQuote(bytes)
            let leaf = try pckChain(of: quote)[0]
            let qeReport = vector.signedByteCount + 4 + 128 + (vector.version == 3 ? 0 : 6)
            let authenticationData = qeReport + 384 + 64 + 2
            let cases: [(String, Int, String)] = [
                ("a body byte", vector.signedByteCount - 1, "signature"),
                ("a QE report byte", qeReport + 100, "qe-report-signature"),
                ("a QE authentication data byte", authenticationData, "attestation-key-binding"),
            ]
            for (name, offset, failing) in cases {
                var changed = bytes
                changed[offset] ^= 0x01
                let checks = try IntelDCAPQuote(changed).signatureChecks(pckCertificate: leaf)
                #expect(checks.filter { !$0.passed }.map(\.name) == [failing], "\(vector.path): \(name)")
            }
        }
        let sgx = try IntelDCAPQuote(try vectorBytes("sgx/sgx_quote"))
        let tdx = try IntelDCAPQuote(try vectorBytes("sgx/tdx_quote"))
        let otherLeaf = try pckChain(of: tdx)[0]
        let checks = sgx.signatureChecks(pckCertificate: otherLeaf)
        #expect(checks.filter { !$0.passed }.map(\.name) == ["qe-report-signature"])
    }

    @Test("every cut of a quote's signature data is refused naming the field it cuts into")
    func truncations() throws {
        for vector in dcapVectors {
            let bytes = try vectorBytes(vector.path)
            let quote = try IntelDCAPQuote(bytes)
            let end = vector.signedByteCount + 4 + quote.header.signatureDataByteCount
            for length in stride(from: vector.signedByteCount + 4, to: end, by: 1) {
                var cut = Array(bytes[..<length])
                // Keep the stated length consistent with the cut, so the refusal comes from the field it cuts into.
                let stated = UInt32(length - vector.signedByteCount - 4)
                withUnsafeBytes(of: stated.littleEndian) {
                    cut.replaceSubrange(vector.signedByteCount..<(vector.signedByteCount + 4), with: $0)
                }
                let error = #expect(throws: AttestationError.self, "\(vector.path) cut at \(length)") {
                    try IntelDCAPQuote(cut)
                }
                #expect(error?.code == .malformedEvidence && error?.reason.contains(" needs ") == true, "\(length)")
            }
        }
    }

    /// Quotes derived from each vector: the vector, 200 random one-byte changes, every length field edited, and cuts.
    private func mutations() throws -> [(label: String, bytes: [UInt8])] {
        var random = SplitMix64(seed: 19)
        var cases: [(String, [UInt8])] = []
        for vector in dcapVectors {
            let bytes = try vectorBytes(vector.path)
            let quote = try IntelDCAPQuote(bytes)
            cases.append((vector.path, bytes))
            for _ in 0..<200 {
                var changed = bytes
                let position = Int(random.next() % UInt64(bytes.count))
                changed[position] ^= UInt8(truncatingIfNeeded: random.next() % 255 + 1)
                cases.append(("\(vector.path) byte \(position) changed", changed))
            }
            // The length fields: signature data, (v4/v5) outer certification data, QE authentication data, chain.
            let signatureLength = vector.signedByteCount
            var lengths: [(String, Int, Int)] = [("signature data length", signatureLength, 4)]
            var cursor = signatureLength + 4 + 128
            if vector.version != 3 {
                lengths.append(("certification data type", cursor, 2))
                lengths.append(("certification data length", cursor + 2, 4))
                cursor += 6
            }
            cursor += 384 + 64
            lengths.append(("QE authentication data length", cursor, 2))
            cursor += 2 + quote.qeAuthenticationData.count
            lengths.append(("PCK chain type", cursor, 2))
            lengths.append(("PCK chain length", cursor + 2, 4))
            for (name, offset, width) in lengths {
                let stated = bytes[offset..<(offset + width)].reversed().reduce(0) { $0 << 8 | Int($1) }
                for value in [0, 1, stated - 1, stated + 1, stated + 64, (1 << (8 * width)) - 1] where value >= 0 {
                    var changed = bytes
                    for index in 0..<width { changed[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
                    cases.append(("\(vector.path) \(name) \(value)", changed))
                }
            }
            for length in stride(from: 0, to: bytes.count, by: 97) {
                cases.append(("\(vector.path) cut at \(length)", Array(bytes[..<length])))
            }
        }
        return cases
    }

    @Test("hundreds of changed quotes: Cloister and dcap-qvl decode the same fields, or both refuse")
    func differentialAgainstDCAPQVL() throws {
        let cases = try mutations()
        guard let theirs = try dcapQVL("dcap_parse.py", cases.map { hexEncoded($0.bytes) }) else { return }
        var agreedDecodes = 0
        var agreedRefusals = 0
        var stricter = 0
        for ((label, bytes), their) in zip(cases, theirs) {
            let decoded = their as? [String: Any]
            let ours = Result<IntelDCAPQuote, AttestationError> { () throws(AttestationError) in
                try IntelDCAPQuote(bytes)
            }
            switch (ours, decoded) {
            case (.success, nil):
                Issue.record("\(label): Cloister decodes a quote dcap-qvl refuses")
            case (.success(let quote), let decoded?):
                guard decoded["chain"] is String else {
                    Issue.record("\(label): Cloister decodes a quote whose PCK chain dcap-qvl cannot find")
                    continue
                }
                let ours = fields(of: quote)
                let theirs = normalised(decoded)
                let differing = Set(ours.keys).union(theirs.keys).filter { ours[$0] != theirs[$0] }.sorted()
                #expect(
                    differing.isEmpty,
                    "\(label): \(differing.map { "\($0) \(ours[$0] ?? "-") vs \(theirs[$0] ?? "-")" })")
                agreedDecodes += 1
            case (.failure(let error), nil):
                #expect(error.code == .malformedEvidence, "\(label)")
                agreedRefusals += 1
            case (.failure(let error), _?):
                // Where Cloister is stricter than dcap-qvl's parser, as Intel's QVL is (Quote::validate): the
                // attestation key type and the QE vendor id (not a DCAP quote of Intel's QE) and the outer
                // certification data type 6; and the inner type, which must be 5, the PCK chain, the only one either
                // verifier can verify (dcap-qvl then finds no chain); a structure that does not fill what holds it,
                // and bytes other than zeros after the signature data (Intel's QVL allows no byte there at all).
                let named = [
                    "is not an Intel DCAP quote", "certification data of type", "before its stated length",
                    "where only padding (zeros) may follow",
                ]
                #expect(named.contains { error.reason.contains($0) }, "\(label): \(error.reason)")
                stricter += 1
            }
        }
        #expect(agreedDecodes > 300 && agreedRefusals > 50, "\(agreedDecodes) decoded, \(agreedRefusals) refused")
        print(
            "dcap-qvl differential: \(cases.count) quotes, \(agreedDecodes) decoded alike, \(agreedRefusals) refused by both, \(stricter) refused by Cloister alone (named stricter checks)"
        )
    }

    private func fields(of quote: IntelDCAPQuote) -> [String: String] {
        var fields: [String: String] = [
            "version": "\(quote.header.version)", "tee_type": "\(quote.header.tee.rawValue)",
            "qe_svn": "\(quote.qeSVN)", "pce_svn": "\(quote.pceSVN)", "user_data": hexEncoded(quote.userData),
            "chain": hexEncoded(quote.pckCertificateChain),
        ]
        switch quote.body {
        case .sgx(let body):
            fields["cpu_svn"] = hexEncoded(body.cpuSVN)
            fields["attributes"] = hexEncoded(body.attributes)
            fields["mr_enclave"] = hexEncoded(body.mrEnclave)
            fields["mr_signer"] = hexEncoded(body.mrSigner)
            fields["report_data"] = hexEncoded(body.reportData)
        case .td(let body):
            for (name, value) in [
                ("tee_tcb_svn", body.teeTCBSVN), ("mr_seam", body.mrSeam), ("mr_signer_seam", body.mrSignerSeam),
                ("seam_attributes", body.seamAttributes), ("td_attributes", body.tdAttributes), ("xfam", body.xfam),
                ("mr_td", body.mrTD), ("mr_config_id", body.mrConfigID), ("mr_owner", body.mrOwner),
                ("mr_owner_config", body.mrOwnerConfig), ("rt_mr0", body.rtmrs[0]), ("rt_mr1", body.rtmrs[1]),
                ("rt_mr2", body.rtmrs[2]), ("rt_mr3", body.rtmrs[3]), ("report_data", body.reportData),
            ] {
                fields[name] = hexEncoded(value)
            }
            if let extra = body.teeTCBSVN2, let service = body.mrServiceTD {
                fields["tee_tcb_svn2"] = hexEncoded(extra)
                fields["mr_service_td"] = hexEncoded(service)
            }
        }
        return fields
    }

    private func normalised(_ decoded: [String: Any]) -> [String: String] {
        var fields: [String: String] = [:]
        for key in ["version", "tee_type", "qe_svn", "pce_svn"] { fields[key] = "\(decoded[key] ?? "")" }
        fields["user_data"] = decoded["user_data"] as? String
        fields["chain"] = decoded["chain"] as? String
        for (key, value) in decoded["report"] as? [String: String] ?? [:] { fields[key] = value }
        return fields
    }
}
