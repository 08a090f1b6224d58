import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

@testable import Attestation

/// The PCK leaf certificate of each DCAP quote vector.
private func pckLeaves() throws -> [(path: String, certificate: X509Certificate)] {
    try dcapVectors.map { vector in (vector.path, try pckChain(of: IntelDCAPQuote(vectorBytes(vector.path)))[0]) }
}

@Suite("The SGX extensions of PCK certificates, against dcap-qvl")
struct PCKCertificateExtensionsTests {
    @Test("the PCK certificates of the three quotes carry their FMSPC, PCE-ID, SVNs and SGX type")
    func vectors() throws {
        let leaves = try pckLeaves()
        let sgx = try PCKCertificateExtensions(of: leaves[0].certificate)
        #expect(hexEncoded(sgx.fmspc) == "00a067110000" && hexEncoded(sgx.pceID) == "0000" && sgx.pceSVN == 13)
        #expect(hexEncoded(sgx.cpuSVN) == "0b0b0202ff0100000000000000000000" && sgx.sgxType == 0)
        // The component SVNs are the CPUSVN's bytes, as Intel issues them.
        for leaf in leaves {
            let extensions = try PCKCertificateExtensions(of: leaf.certificate)
            #expect(extensions.componentSVNs == extensions.cpuSVN.map(Int.init), "\(leaf.path)")
            #expect(extensions.ppid.count == 16, "\(leaf.path)")
        }
    }

    @Test("a certificate without the SGX extensions is refused naming the certificate")
    func missing() throws {
        let chain = try pckChain(of: IntelDCAPQuote(vectorBytes("sgx/sgx_quote")))
        let error = #expect(throws: AttestationError.self) { try PCKCertificateExtensions(of: chain[1]) }
        #expect(error?.reason.contains("has 0 SGX extensions (1.2.840.113741.1.13.1), not one") == true)
    }

    @Test("an unknown, repeated or missing item, a component out of order and trailing bytes are each refused")
    func malformedItems() throws {
        let value = try #require(
            try pckLeaves()[0].certificate.extensions.first { $0.oid == PCKCertificateExtensions.oid }?.value)
        var outer = DERReader(value[...], subject: "test")
        var reader = DERReader(try outer.read(DERReader.sequence, "extension"), subject: "test")
        var items: [[UInt8]] = []
        while !reader.isAtEnd {
            let element = try reader.next("item")
            items.append([element.tag] + encodedLength(element.content.count) + element.content)
        }
        #expect(items.count == 5)
        func extensions(_ items: [[UInt8]]) throws(AttestationError) -> PCKCertificateExtensions {
            let content = items.flatMap { $0 }
            return try PCKCertificateExtensions(
                der: ([0x30] + encodedLength(content.count) + content)[...], subject: "PCK")
        }
        _ = try extensions(items)
        // An item 1.2.840.113741.1.13.1.9 holding an octet.
        let unknown: [UInt8] = [
            0x30, 0x0F, 0x06, 0x0A, 0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01, 0x09, 0x04, 0x01, 0x00,
        ]
        let cases: [(String, [[UInt8]], String)] = [
            ("unknown item", items + [unknown], "item 1.2.840.113741.1.13.1.9 is not one of the SGX extensions' items"),
            ("repeated FMSPC", items + [items[3]], "item 1.2.840.113741.1.13.1.4 appears twice"),
            ("no FMSPC", Array(items[0..<3]) + [items[4]], "the FMSPC item (1.2.840.113741.1.13.1.4) is missing"),
        ]
        for (name, changed, expected) in cases {
            let error = #expect(throws: AttestationError.self, "\(name)") { try extensions(changed) }
            #expect(error?.reason == "PCK: \(expected)", "\(name): \(error?.reason ?? "")")
        }
        let trailing = #expect(throws: AttestationError.self) {
            try PCKCertificateExtensions(der: (value + [0x00])[...], subject: "PCK")
        }
        #expect(trailing?.reason == "PCK: bytes follow the extension's SEQUENCE")
    }

    private func encodedLength(_ count: Int) -> [UInt8] {
        count < 0x80
            ? [UInt8(count)] : count < 0x100 ? [0x81, UInt8(count)] : [0x82, UInt8(count >> 8), UInt8(count & 0xFF)]
    }

    /// Each byte of each certificate's SGX extension set to three other values, the certificate otherwise unchanged.
    private func mutations() throws -> [(label: String, certificate: [UInt8])] {
        var cases: [(String, [UInt8])] = []
        for leaf in try pckLeaves() {
            let der = leaf.certificate.derRepresentation
            let value = try #require(
                leaf.certificate.extensions.first { $0.oid == PCKCertificateExtensions.oid }?.value)
            let start = try #require(der.firstRange(of: value)?.lowerBound)
            cases.append((leaf.path, der))
            for position in start..<(start + value.count) {
                for change: UInt8 in [0x01, 0x80, 0xFF] {
                    var changed = der
                    changed[position] ^= change
                    cases.append(("\(leaf.path) extension byte \(position - start) ^ \(change)", changed))
                }
            }
        }
        return cases
    }

    @Test("every byte of the extension changed: Cloister and dcap-qvl read the same values, or both refuse")
    func differentialAgainstDCAPQVL() throws {
        let cases = try mutations().compactMap { label, der -> (String, X509Certificate)? in
            // A change that breaks the certificate's own encoding is OpenSSL's to refuse, not the extension reader's.
            (try? X509Certificate(derRepresentation: der)).map { (label, $0) }
        }
        guard let theirs = try dcapQVL("dcap_pck_extension.py", cases.map { $0.1.pemRepresentation }) else { return }
        var read = 0
        var refused = 0
        var stricter: [String] = []
        for ((label, certificate), their) in zip(cases, theirs) {
            let ours = Result<PCKCertificateExtensions, AttestationError> { () throws(AttestationError) in
                try PCKCertificateExtensions(of: certificate)
            }
            switch (ours, their as? [String: Any]) {
            case (.success, nil):
                Issue.record("\(label): Cloister reads SGX extensions dcap-qvl refuses")
            case (.success(let extensions), let decoded?):
                let mine: [String: String] = [
                    "ppid": hexEncoded(extensions.ppid), "cpu_svn": hexEncoded(extensions.cpuSVN),
                    "fmspc": hexEncoded(extensions.fmspc),
                    "pce_id": hexEncoded(extensions.pceID), "pce_svn": "\(extensions.pceSVN)",
                    "sgx_type": "\(extensions.sgxType)",
                    "platform_instance_id": extensions.platformInstanceID.map(hexEncoded) ?? "-",
                ]
                let them = decoded.mapValues { $0 is NSNull ? "-" : "\($0)" }
                let differing = mine.keys.filter { mine[$0] != them[$0] }.sorted()
                #expect(differing.isEmpty, "\(label): \(differing.map { "\($0) \(mine[$0]!) vs \(them[$0] ?? "-")" })")
                read += 1
            case (.failure, nil):
                refused += 1
            case (.failure(let error), _?):
                stricter.append("\(label): \(error.reason)")
            }
        }
        // What Intel's PCK certificate profile requires and dcap-qvl does not check (it looks its values up by
        // identifier and ignores the rest): tallied by the check that refused, digits and identifiers elided.
        let tally = Dictionary(grouping: stricter) { reason in
            String(reason.split(separator: ": ").last ?? "").replacing(/[0-9][0-9.]*/, with: "#")
        }.mapValues(\.count).sorted { $0.value > $1.value }
        print(
            "PCK extension differential: \(cases.count) certificates, \(read) read alike, \(refused) refused by both, "
                + "\(stricter.count) by Cloister alone: "
                + tally.prefix(12).map { "\($0.value) \($0.key)" }.joined(separator: "; "))
        #expect(read > 100 && refused > 100, "\(read) read alike, \(refused) refused by both")
    }
}
