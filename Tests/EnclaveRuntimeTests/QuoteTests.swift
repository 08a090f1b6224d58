import Attestation
import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

/// A platform record for an enclave that was never launched (quotes and reports need only the record).
private func record(on platform: Platform, measurement: UInt8 = 0x11) throws -> EnclaveRecord {
    try EnclaveRecord(
        enclaveID: "0011223344556677",
        identity: EnclaveIdentity(
            measurement: [UInt8](repeating: measurement, count: 48), signer: [UInt8](repeating: 0xaa, count: 48),
            productID: 4, svn: 2, debug: false),
        canonicalManifest: Array("manifest".utf8), mechanisms: [.landlock, .notDumpable],
        platformID: platform.platformID,
        tcbLevel: platform.tcbLevel, backingStoreDirectory: "/nonexistent")
}

@Suite("Quotes and local reports")
struct QuoteTests {
    @Test("a quote is a Nitro-shaped document, simulated, signed ES256 by the attestation key that chains to the root")
    func quoteShape() throws {
        let fixture = try PlatformFixture()
        let enclave = try record(on: fixture.platform)
        let binding = QuoteBinding(nonce: [1, 2, 3], userData: [9], publicKey: [4, 5])
        let quote = try fixture.platform.quote(for: enclave, binding: binding)
        let signed = try SignedAttestationDocument(encoded: quote)
        try signed.verifySignature()
        try signed.verifyCertificates(with: fixture.chainVerifier(), crls: fixture.platform.revocationLists, at: Date())
        let document = signed.document
        #expect(signed.message.algorithm == .es256)
        #expect(document.digest == "SHA384")
        #expect(document.pcrs[0] == enclave.identity.measurement)
        #expect(document.pcrs[8] == enclave.identity.signer)
        #expect(document.nonce == [1, 2, 3] && document.userData == [9] && document.publicKey == [4, 5])
        #expect(
            document.caBundle == [
                fixture.platform.rootCertificate.derRepresentation,
                fixture.platform.platformCertificate.derRepresentation,
            ])
        #expect(abs(signed.timestamp.timeIntervalSinceNow) < 60)
        let claims = try #require(document.cloister)
        #expect(claims.simulated)
        #expect(
            claims
                == CloisterClaims(
                    simulated: true, debug: false, productID: 4, svn: 2, tcbLevel: 1,
                    platformID: fixture.platform.platformID,
                    manifestHash: DigestAlgorithm.sha384.hash(Array("manifest".utf8)),
                    isolation: ["landlock", "not-dumpable"]))
        #expect(try document.encoded() == signed.message.payload)
        // The direct writer's key order is the deterministic encoding's (RFC 8949 §4.2.1), with and without the
        // cloister claims and the optional fields.
        var bare = document
        bare.cloister = nil
        bare.nonce = nil
        bare.userData = nil
        bare.publicKey = nil
        for candidate in [document, bare] {
            let payload = try candidate.encoded()
            #expect(try CBORDecoder().decode(payload).encoded() == payload)
            #expect(try AttestationDocument(payload: payload) == candidate)
        }
    }

    @Test("an ES384 platform signs ES384 quotes (the exact Nitro shape)")
    func es384() throws {
        let fixture = try PlatformFixture(curve: .p384)
        let signed = try SignedAttestationDocument(
            encoded: fixture.platform.quote(for: record(on: fixture.platform), binding: QuoteBinding(nonce: [7])))
        #expect(signed.message.algorithm == .es384)
        try signed.verifySignature()
        try signed.verifyCertificates(with: fixture.chainVerifier(), crls: fixture.platform.revocationLists, at: Date())
    }

    @Test("changing any byte of the signed structure breaks the quote's signature")
    func everyByteBound() throws {
        let fixture = try PlatformFixture()
        let quote = try fixture.platform.quote(for: record(on: fixture.platform), binding: QuoteBinding(nonce: [1]))
        let message = try COSESign1(encoded: quote)
        // The payload starts after the tag, array head, protected header and unprotected map; flip every 5th byte.
        var failures = 0
        var checked = 0
        for index in stride(from: quote.count - message.signature.count - message.payload.count, to: quote.count, by: 5)
        {
            var altered = quote
            altered[index] ^= 0x01
            checked += 1
            do {
                try SignedAttestationDocument(encoded: altered).verifySignature()
            } catch {
                failures += 1
            }
        }
        #expect(checked > 100)
        #expect(failures == checked)
    }

    @Test("a quote binds one enclave and one nonce: another measurement or nonce cannot be substituted")
    func binding() throws {
        let fixture = try PlatformFixture()
        let platform = fixture.platform
        let first = try record(on: platform, measurement: 0x11)
        let second = try record(on: platform, measurement: 0x22)
        let quote = try SignedAttestationDocument(
            encoded: platform.quote(for: first, binding: QuoteBinding(nonce: [1])))
        #expect(quote.document.pcrs[0] == first.identity.measurement)
        #expect(quote.document.pcrs[0] != second.identity.measurement)
        // A report committing to one nonce cannot be quoted with another.
        let report = try platform.report(
            for: first, target: EnclaveReport.quotingTarget, reportData: QuoteBinding(nonce: [1]).reportData)
        let error = #expect(throws: PlatformError.self) {
            try platform.quote(report: report.encoded(), binding: QuoteBinding(nonce: [2]))
        }
        #expect(error?.code == .reportRejected)
        // A report made for another enclave does not verify at the quoting function.
        let elsewhere = try platform.report(
            for: first, target: second.identity.measurement, reportData: QuoteBinding(nonce: [1]).reportData)
        #expect(throws: PlatformError.self) {
            try platform.quote(report: elsewhere.encoded(), binding: QuoteBinding(nonce: [1]))
        }
        // Another platform's quoting function does not accept this platform's reports.
        let other = try PlatformFixture()
        #expect(throws: PlatformError.self) {
            try other.platform.quote(report: report.encoded(), binding: QuoteBinding(nonce: [1]))
        }
    }

    @Test("a local report verifies only with the target enclave's report key, and only unaltered")
    func localReport() throws {
        let fixture = try PlatformFixture()
        let platform = fixture.platform
        let sender = try record(on: platform, measurement: 0x11)
        let target = try record(on: platform, measurement: 0x22)
        let data = [UInt8](repeating: 0x5a, count: 64)
        let report = try platform.report(for: sender, target: target.identity.measurement, reportData: data)
        let encoded = try report.encoded()
        let checked = try EnclaveReport(encoded: encoded, reportKey: platform.reportKey(for: target))
        #expect(checked.identity == sender.identity)
        #expect(checked.reportData == data)
        #expect(checked.isolation == ["landlock", "not-dumpable"])
        #expect(throws: PlatformError.self) {
            try EnclaveReport(encoded: encoded, reportKey: platform.reportKey(for: sender))
        }
        var altered = encoded
        altered[20] ^= 0x01
        #expect(throws: PlatformError.self) {
            try EnclaveReport(encoded: altered, reportKey: platform.reportKey(for: target))
        }
        #expect(throws: PlatformError.self) {
            try platform.report(for: sender, target: target.identity.measurement, reportData: [1, 2, 3])
        }
    }

    @Test("malformed documents are refused with a named field")
    func malformedDocuments() throws {
        let fixture = try PlatformFixture()
        let quote = try SignedAttestationDocument(
            encoded: fixture.platform.quote(for: record(on: fixture.platform), binding: QuoteBinding()))
        var document = quote.document
        let cases: [(String, (inout AttestationDocument) -> Void)] = [
            ("digest", { $0.digest = "MD5" }),
            ("PCR", { $0.pcrs[3] = [1, 2, 3] }),
            ("cabundle", { $0.caBundle = [] }),
            ("nonce", { $0.nonce = [UInt8](repeating: 0, count: 513) }),
            ("module", { $0.moduleID = "" }),
        ]
        for (name, change) in cases {
            var altered = document
            change(&altered)
            #expect(throws: AttestationError.self, "\(name)") { try altered.encoded() }
        }
        document.cloister = nil
        var payload = try CBORDecoder().decode(document.encoded())
        if case .map(var entries) = payload {
            entries.append(CBORMapEntry("surprise", .bool(true)))
            payload = .map(entries)
        }
        let error = #expect(throws: AttestationError.self) { try AttestationDocument(payload: payload.encoded()) }
        #expect(error?.reason.contains("surprise") == true)
        // Each field the decoder checks, broken on the wire (the encoder would refuse to write most of these).
        let good = try CBORDecoder().decode(quote.document.encoded())
        func replacing(_ key: String, with value: CBORValue?) throws -> [UInt8] {
            var entries = good.mapValue ?? []
            entries.removeAll { $0.key == .text(key) }
            if let value { entries.append(CBORMapEntry(.text(key), value)) }
            return try CBORValue.map(entries).encoded()
        }
        var claims = good["cloister"]?.mapValue ?? []
        claims.removeAll { $0.key == .text("platform_id") }
        claims.append(CBORMapEntry("platform_id", .bytes([1, 2, 3])))
        func claimsReplacing(_ name: String, with entry: CBORMapEntry) -> CBORValue {
            var entries = good["cloister"]?.mapValue ?? []
            entries.removeAll { $0.key == .text(name) }
            entries.append(entry)
            return .map(entries)
        }
        let wire: [(String, [UInt8])] = [
            ("not a map", try CBORValue.array([]).encoded()),
            ("no module id", try replacing("module_id", with: nil)),
            ("unknown digest", try replacing("digest", with: "MD5")),
            ("zero timestamp", try replacing("timestamp", with: .unsigned(0))),
            ("short PCR", try replacing("pcrs", with: .map([CBORMapEntry(.unsigned(0), .bytes([1]))]))),
            (
                "PCR index 32",
                try replacing(
                    "pcrs", with: .map([CBORMapEntry(.unsigned(32), .bytes([UInt8](repeating: 0, count: 48)))]))
            ),
            ("no certificate", try replacing("certificate", with: nil)),
            ("empty CA bundle", try replacing("cabundle", with: .array([]))),
            ("CA bundle of text", try replacing("cabundle", with: .array([.text("x")]))),
            ("user data as text", try replacing("user_data", with: "x")),
            ("empty public key", try replacing("public_key", with: .bytes([]))),
            ("short platform id", try replacing("cloister", with: .map(claims))),
            ("claims not a map", try replacing("cloister", with: 1)),
            ("a claim renamed", try replacing("cloister", with: claimsReplacing("svn", with: CBORMapEntry("svn2", 1)))),
            (
                "debug as a number",
                try replacing("cloister", with: claimsReplacing("debug", with: CBORMapEntry("debug", 1)))
            ),
        ]
        for (name, bytes) in wire {
            #expect(throws: AttestationError.self, "\(name)") { try AttestationDocument(payload: bytes) }
        }
        // AWS's size limits, one byte past each, on the wire: the refusal names the field.
        func filled(_ count: Int) -> CBORValue { .bytes([UInt8](repeating: 1, count: count)) }
        let certificate = AttestationDocument.maximumCertificateSize + 1
        let oversized: [(field: String, payload: [UInt8])] = [
            ("\"certificate\"", try replacing("certificate", with: filled(certificate))),
            ("cabundle[1]", try replacing("cabundle", with: .array([filled(10), filled(certificate)]))),
            ("public_key", try replacing("public_key", with: filled(AttestationDocument.maximumPublicKeySize + 1))),
            ("user_data", try replacing("user_data", with: filled(AttestationDocument.maximumUserDataSize + 1))),
            ("nonce", try replacing("nonce", with: filled(AttestationDocument.maximumNonceSize + 1))),
        ]
        for (field, payload) in oversized {
            let error = #expect(throws: AttestationError.self, "\(field)") { try AttestationDocument(payload: payload) }
            #expect(error?.reason.contains(field) == true, "\(field): \(error?.reason ?? "")")
        }
        #expect(throws: AttestationError.self) { try SignedAttestationDocument(encoded: [0x84, 0x40]) }
    }

    @Test(
        "pycose and cryptography verify a quote's signature, chain, CRLs, nonce and measurement; a wrong nonce fails",
        .enabled(if: TestEnvironment.python != nil, "needs the interop venv (make test creates it)"))
    func independentVerifier() throws {
        let fixture = try PlatformFixture()
        let enclave = try record(on: fixture.platform)
        let quoteURL = fixture.directory.appendingPathComponent("quote.cose")
        try Data(fixture.platform.quote(for: enclave, binding: QuoteBinding(nonce: [0xab, 0xcd]))).write(to: quoteURL)
        let python = try #require(TestEnvironment.python)
        // The platform's current files (a vendor operation writes a new generation of them).
        func arguments() throws -> [String] {
            [
                TestEnvironment.interopScript("verify_quote.py"), "--quote", quoteURL.path,
                "--root", try fixture.home.path(of: .rootCertificate), "--crls",
                try fixture.home.path(of: .revocationLists),
                "--measurement", hexString(enclave.identity.measurement),
            ]
        }
        let accepted = try runTool(python, arguments() + ["--nonce", "abcd"])
        #expect(accepted.status == 0, "\(accepted.standardOutput)\(accepted.standardError)")
        let wrongNonce = try runTool(python, arguments() + ["--nonce", "abce"])
        #expect(wrongNonce.status == 1)
        #expect(wrongNonce.standardOutput.contains("nonce differs"))
        let other = try PlatformFixture()
        let wrongRoot = try runTool(
            python,
            [
                TestEnvironment.interopScript("verify_quote.py"), "--quote", quoteURL.path,
                "--root", try other.home.path(of: .rootCertificate),
            ])
        #expect(wrongRoot.status == 1)
        _ = try Platform.revoke(home: fixture.home)
        let revoked = try runTool(python, arguments() + ["--nonce", "abcd"])
        #expect(revoked.status == 1)
        #expect(revoked.standardOutput.contains("revoked"))
    }
}
