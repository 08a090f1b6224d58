import Attestation
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// The SNP report vectors, the VCEK that signed each, and a time inside the VCEK's validity (2024-01-01 and
/// 2025-06-01, as the vectors' README says).
private let snpVectors: [(report: String, vcek: String, time: Date)] = [
    ("snp/attestation.bin", "snp/vcek.testcer", Date(timeIntervalSince1970: 1_704_067_200)),
    ("snp/trustee-milan-report.bin", "snp/trustee-milan-vcek.der", Date(timeIntervalSince1970: 1_748_736_000)),
]

private func certificate(_ path: String) throws -> X509Certificate {
    try X509Certificate(derRepresentation: vectorBytes(path))
}

/// AMD's vendor certificates for `product` ("milan", "genoa", "turin"): ASK, ARK and ASVK, by their names.
private func vendorCertificates(_ product: String) throws -> (ask: X509Certificate, ark: X509Certificate) {
    let all = try X509Certificate.certificates(
        fromPEM: String(decoding: vectorBytes("snp/\(product)_ask_ark_asvk.pem"), as: UTF8.self))
    let name = product.prefix(1).uppercased() + product.dropFirst()
    let ask = try #require(all.first { $0.description.contains("CN=SEV-\(name)") }, "\(all.map(\.description))")
    let ark = try #require(all.first { $0.description.contains("CN=ARK-\(name)") })
    return (ask, ark)
}

/// `bytes` as a DER INTEGER's content (unsigned, shortest form).
private func derInteger(_ bytes: [UInt8]) -> [UInt8] {
    var content = Array(bytes.drop { $0 == 0 })
    if content.isEmpty || content[0] & 0x80 != 0 { content.insert(0, at: 0) }
    return [0x02, UInt8(content.count)] + content
}

/// What `openssl dgst -sha384 -verify` says of the report `bytes`' signature (r and s read from their little-endian
/// fields as the ABI lays them out) with `vcek`'s key.
private func opensslVerifies(_ bytes: [UInt8], vcek: String, in directory: URL) throws -> Bool {
    let key = directory.appendingPathComponent("vcek.pub.pem")
    if !FileManager.default.fileExists(atPath: key.path) {
        let output = try runTool(
            "openssl",
            ["x509", "-inform", "DER", "-in", TestEnvironment.vector("testvectors/\(vcek)").path, "-pubkey", "-noout"])
        try output.standardOutput.write(to: key, atomically: true, encoding: .utf8)
    }
    let r = Array(bytes[0x2A0..<0x2A0 + 72].reversed())
    let s = Array(bytes[0x2A0 + 72..<0x2A0 + 144].reversed())
    let sequence = derInteger(r) + derInteger(s)
    let signature = [0x30, UInt8(sequence.count)] + sequence
    let data = directory.appendingPathComponent("signed.bin")
    let signatureFile = directory.appendingPathComponent("signature.der")
    try Data(bytes[..<0x2A0]).write(to: data)
    try Data(signature).write(to: signatureFile)
    let output = try runTool(
        "openssl", ["dgst", "-sha384", "-verify", key.path, "-signature", signatureFile.path, data.path])
    return output.status == 0
}

@Suite("AMD SEV-SNP reports decoded field by field, their signatures and VCEK chains against the openssl CLI")
struct SEVSNPReportTests {
    @Test("both reports decode: version 2, signed by a VCEK, the VCEK's TCB and hwID are the report's")
    func vectors() throws {
        for vector in snpVectors {
            let report = try SEVSNPReport(vectorBytes(vector.report))
            #expect(report.version == 2 && report.signingKey == .vcek, "\(vector.report)")
            #expect(report.policy & (1 << 17) != 0 && report.measurement.count == 48)
            let extensions = try AMDEndorsementKeyExtensions(of: certificate(vector.vcek))
            #expect(extensions.productName.hasPrefix("Milan"), "\(extensions.productName)")
            #expect(extensions.tcb == report.reportedTCB, "\(vector.report): \(extensions.tcb) \(report.reportedTCB)")
            #expect(extensions.hardwareID == report.chipID, "\(vector.report)")
            #expect(report.signatureCheck(endorsementKey: try certificate(vector.vcek)).passed, "\(vector.report)")
        }
    }

    @Test("the signature: Cloister and openssl dgst agree on each report and on a hundred changes of each")
    func signatureAgainstOpenSSL() throws {
        let directory = try TestEnvironment.temporaryDirectory("snp-openssl")
        var generator = SystemRandomNumberGenerator()
        var compared = 0
        let reserved =
            [0x4C..<0x50, 0x188..<0x1A0, 0x1EB..<0x1EC, 0x1EF..<0x1F0, 0x208..<0x2A0]
            + [0x2A0 + 48..<0x2A0 + 72, 0x2A0 + 120..<0x2A0 + 144]
        let changeable = (0..<(0x2A0 + 144)).filter { offset in !reserved.contains { $0.contains(offset) } }
        for vector in snpVectors {
            let original = try vectorBytes(vector.report)
            let vcek = try certificate(vector.vcek)
            let vectorDirectory = directory.appendingPathComponent(
                vector.report.replacingOccurrences(of: "/", with: "-"))
            try FileManager.default.createDirectory(at: vectorDirectory, withIntermediateDirectories: true)
            var cases = [original]
            // A hundred changes that still decode: one the decoder refuses (the version, the signature algorithm, a
            // reserved bit of the policy or key information) says nothing of the signature, so it is drawn again.
            // (Skipping them instead made the count of cases compared a random number, and the test flaky.)
            for _ in 0..<1_000 where cases.count <= 100 {
                var changed = original
                // Within the signed bytes or r and s, outside the reserved ranges: a change must break the signature.
                let offset = try #require(changeable.randomElement(using: &generator))
                changed[offset] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &generator)
                if (try? SEVSNPReport(changed)) != nil { cases.append(changed) }
            }
            for bytes in cases {
                let report = try SEVSNPReport(bytes)
                let ours = report.signatureCheck(endorsementKey: vcek).passed
                let theirs = try opensslVerifies(bytes, vcek: vector.vcek, in: vectorDirectory)
                #expect(ours == theirs, "\(vector.report): Cloister \(ours), openssl \(theirs)")
                #expect(ours == (bytes == original))
                compared += 1
            }
        }
        #expect(compared == snpVectors.count * 101)
    }

    @Test("the VCEK chains: Cloister and openssl verify agree on ARK, ASK and each VCEK, at times inside and outside")
    func chainsAgainstOpenSSL() throws {
        let directory = try TestEnvironment.temporaryDirectory("snp-chains")
        func pem(_ certificate: X509Certificate, _ name: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try certificate.pemRepresentation.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let milan = try vendorCertificates("milan")
        let vceks = [
            ("snp/vcek.testcer", true), ("snp/trustee-milan-vcek.der", true),
            ("snp/trustee-milan-vcek-wrong-signature-1.der", false),
            ("snp/trustee-milan-vcek-wrong-signature-2.der", false),
        ]
        for (path, good) in vceks {
            let vcek = try certificate(path)
            for product in ["milan", "genoa", "turin"] {
                let vendor = product == "milan" ? milan : try vendorCertificates(product)
                let times = [vcek.notValidBefore + 86_400, vcek.notValidBefore - 1, vcek.notValidAfter + 1]
                for time in times {
                    let ours =
                        (try? CertificateChainVerifier(trustAnchors: [vendor.ark])
                            .verify(leaf: vcek, intermediates: [vendor.ask], at: time)) != nil
                    let output = try runTool(
                        "openssl",
                        [
                            "verify", "-attime", String(Int(time.timeIntervalSince1970)),
                            "-CAfile", try pem(vendor.ark, "ark.pem"), "-untrusted", try pem(vendor.ask, "ask.pem"),
                            try pem(vcek, "vcek.pem"),
                        ])
                    let theirs = output.status == 0
                    #expect(ours == theirs, "\(path) under \(product) at \(time): Cloister \(ours), openssl \(theirs)")
                    let expected = good && product == "milan" && time == times[0]
                    #expect(ours == expected, "\(path) under \(product) at \(time)")
                }
            }
        }
    }

    @Test("each malformed field is refused, named: policy bit 17, reserved bits, key information, r beyond 384 bits")
    func malformedFields() throws {
        let original = try vectorBytes(snpVectors[1].report)
        func refusal(_ change: (inout [UInt8]) -> Void) -> String? {
            var bytes = original
            change(&bytes)
            do {
                _ = try SEVSNPReport(bytes)
                return nil
            } catch {
                return error.reason
            }
        }
        #expect(refusal { $0[0x0A] &= ~0x02 }?.contains("bit 17") == true)
        #expect(refusal { $0[0x0C] |= 0x10 }?.contains("reserved bits 26 to 63") == true)
        #expect(refusal { $0[0x48] |= 0x0C }?.contains("reserved signing key") == true)
        #expect(refusal { $0[0x4C] = 1 }?.contains("0x4c–0x4f") == true)
        #expect(refusal { $0[0x190] = 1 }?.contains("0x188–0x19f") == true)
        #expect(refusal { $0[0x250] = 1 }?.contains("0x208–0x29f") == true)
        #expect(refusal { $0[0x2A0 + 60] = 1 }?.contains("384 bits") == true)
        #expect(refusal { $0[0x400] = 1 }?.contains("after the signature") == true)
        #expect(throws: AttestationError.self) { try SEVSNPReport(Array(original.dropLast())) }
    }

    @Test("a VCEK's extensions: Turin's TCB layout, and each missing or malformed extension refused, named")
    func extensionRefusals() throws {
        let vcek = try certificate(snpVectors[1].vcek)
        let extensions = try AMDEndorsementKeyExtensions(of: vcek)
        #expect(extensions.structVersion == 0 && extensions.cloudServiceProviderID == nil)
        #expect(extensions.productLine == "Milan")
        let ask = try vendorCertificates("milan").ask
        #expect(throws: AttestationError.self) { try AMDEndorsementKeyExtensions(of: ask) }
        /// A certificate carrying `extensions` (arc under 1.3.6.1.4.1.3704.1, DER value).
        func endorsementKey(_ extensions: [(String, [UInt8])]) throws -> X509Certificate {
            let profile = CertificateProfile(
                subject: DistinguishedName(["CN": "SEV-VCEK"]), notValidBefore: Date(timeIntervalSince1970: 0),
                notValidAfter: Date(timeIntervalSince1970: 4_000_000_000), isCertificateAuthority: true,
                keyUsage: [.keyCertSign],
                customExtensions: extensions.map {
                    CertificateExtension(oid: "\(AMDEndorsementKeyExtensions.oidPrefix).\($0.0)", value: $0.1)
                })
            return try CertificateAuthority.selfSigned(profile, privateKey: ECPrivateKey(generating: .p256)).certificate
        }
        func integer(_ value: UInt8) -> [UInt8] { value < 0x80 ? [0x02, 0x01, value] : [0x02, 0x02, 0x00, value] }
        func text(_ value: String) -> [UInt8] { [0x16, UInt8(value.utf8.count)] + Array(value.utf8) }
        // The real VCEKs carry the hwID's 64 bytes untagged, as AMD writes them; these tag them (the other way read).
        let hwID = [UInt8](repeating: 0xAB, count: 64)
        let taggedHWID = [0x04, 0x40] + hwID
        let turin: [(String, [UInt8])] = [
            ("1", integer(0)), ("2", text("Turin-C0")), ("3.9", integer(1)), ("3.1", integer(2)), ("3.2", integer(3)),
            ("3.3", integer(4)), ("3.8", integer(200)), ("4", taggedHWID),
        ]
        let read = try AMDEndorsementKeyExtensions(of: endorsementKey(turin))
        #expect(read.tcb == 0xC800_0000_0403_0201 && read.productLine == "Turin" && read.hardwareID == hwID)
        let milan: [(String, [UInt8])] =
            [("1", integer(0)), ("2", text("Milan-B0"))]
            + ["3.1", "3.2", "3.4", "3.5", "3.6", "3.7", "3.3", "3.8"].map { ($0, integer(1)) } + [("4", taggedHWID)]
        #expect(try AMDEndorsementKeyExtensions(of: endorsementKey(milan)).tcb == 0x0101_0101_0101_0101)
        func refusal(_ extensions: [(String, [UInt8])]) throws -> String? {
            do {
                _ = try AMDEndorsementKeyExtensions(of: endorsementKey(extensions))
                return nil
            } catch let error as AttestationError {
                return error.reason
            }
        }
        #expect(try refusal(milan.filter { $0.0 != "3.4" })?.contains("no SPL 4 extension") == true)
        #expect(try refusal(turin.filter { $0.0 != "3.9" })?.contains("no FMC SPL extension") == true)
        #expect(try refusal(milan.map { $0.0 == "3.1" ? ($0.0, integer(128)) : $0 })?.contains("above 127") == true)
        #expect(try refusal(milan + [("5", text("a cloud"))])?.contains("both a hwID") == true)
        #expect(try refusal(milan.map { $0.0 == "4" ? ($0.0, [0x04, 0x02, 1, 2]) : $0 })?.contains("hwID") == true)
        #expect(try refusal(milan.map { $0.0 == "2" ? ($0.0, integer(1)) : $0 })?.contains("product name") == true)
    }
}
