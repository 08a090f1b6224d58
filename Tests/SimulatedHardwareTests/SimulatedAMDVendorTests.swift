import Attestation
import CloisterCBOR
import CloisterCrypto
import Foundation
import SimulatedHardware
import Testing

private typealias Fixture = SimulatedAMDFixture

@Suite("The simulated AMD vendor: its certificates, stored state, VCEK derivation and KDS routes")
struct SimulatedAMDVendorTests {
    @Test("every certificate says it is simulated, carries the platform id and AMD's profile otherwise")
    func certificates() throws {
        let collateral = try Fixture.collateral(SimulatedTCB(level: 2, latestLevel: 2))
        let vlek = try #require(collateral.vlek)
        let named: [(X509Certificate, String)] = [
            (collateral.ark, "Cloister Simulated ARK-Milan"), (collateral.ask, "Cloister Simulated SEV-Milan"),
            (collateral.asvk, "Cloister Simulated SEV-VLEK-Milan"), (collateral.vcek, "Cloister Simulated SEV-VCEK"),
            (vlek, "Cloister Simulated SEV-VLEK"),
        ]
        for (certificate, name) in named {
            #expect(certificate.subject.commonName == name)
            #expect(certificate.subject.organization == "Cloister Simulated Hardware")
            #expect(certificate.signatureAlgorithm == "rsassaPss", "\(name)")
            #expect(PlatformCertificateExtensions.platformID(of: certificate) == Fixture.platformID, "\(name)")
        }
        #expect(collateral.ark.isSelfSigned && collateral.ark.keyUsage == [.keyCertSign, .cRLSign])
        #expect(collateral.ask.pathLengthConstraint == 0 && collateral.asvk.pathLengthConstraint == 0)
        #expect(TrustStore.amdARKFingerprints.values.contains(hexEncoded(collateral.ark.sha256Fingerprint)) == false)
        #expect(TrustStore([:]).isCloisterRooted([collateral.vcek]))
        let vcek = try AMDEndorsementKeyExtensions(of: collateral.vcek)
        #expect(vcek.productName == "Milan-B1" && vcek.structVersion == 0)
        #expect(vcek.hardwareID == Fixture.vendor.hwID && vcek.cloudServiceProviderID == nil)
        #expect(vcek.tcb == 0x0202_0000_0000_0002 && vcek.tcb == collateral.reportedTCB)
        let vlekExtensions = try AMDEndorsementKeyExtensions(of: vlek)
        #expect(vlekExtensions.productName == "Milan" && vlekExtensions.hardwareID == nil)
        #expect(vlekExtensions.cloudServiceProviderID == "Cloister Simulated Cloud")
        #expect(try collateral.vcek.publicKey().curve == .p384)
        #expect(try vlek.publicKey().curve == .p384)
    }

    @Test("VCEKs are derived per TCB: the same TCB the same key, another TCB another")
    func derivedPerTCB() throws {
        let first = try Fixture.collateral(SimulatedTCB(level: 2, latestLevel: 3))
        let again = try Fixture.vendor.publish(SimulatedTCB(level: 2, latestLevel: 3), at: Fixture.now + 60)
        let next = try Fixture.collateral(SimulatedTCB(level: 3, latestLevel: 3))
        #expect(try first.vcek.publicKey() == again.vcek.publicKey())
        #expect(try first.vcek.publicKey() != next.vcek.publicKey())
        #expect(try first.vlek?.publicKey() == again.vlek?.publicKey())
        #expect(try first.vlek?.publicKey() != next.vlek?.publicKey())
        #expect(first.vcek != again.vcek)  // a fresh certificate for the same key
    }

    @Test("the vendor and its collateral round-trip through deterministic CBOR; refusals name the field")
    func storedState() throws {
        let encoded = try Fixture.vendor.encoded()
        let decoded = try SimulatedAMDVendor(encoded: encoded)
        #expect(try decoded.encoded() == encoded)
        #expect(decoded.arkCertificate == Fixture.vendor.arkCertificate && decoded.hwID == Fixture.vendor.hwID)
        #expect(decoded.productLine == "Milan" && decoded.cloudServiceProviderID == "Cloister Simulated Cloud")
        let tcb = SimulatedTCB(level: 2, latestLevel: 2)
        let collateral = try decoded.publish(tcb, at: Fixture.now)
        // The decoded vendor derives the same VCEK, and the original vendor signs with the decoded one's collateral.
        #expect(try collateral.vcek.publicKey() == Fixture.collateral(tcb).vcek.publicKey())
        _ = try Fixture.vendor.report(
            version: 2, enclave: Fixture.enclave, tcb: tcb, collateral: collateral, signingKey: .vlek)
        let stored = try collateral.encoded()
        let restored = try SimulatedAMDCollateral(encoded: stored)
        #expect(restored == collateral)
        #expect(try restored.encoded() == stored)

        func refusal(_ change: (inout [CBORMapEntry]) -> Void) throws -> String? {
            var entries = try #require(try CBORDecoder().decode(encoded).mapValue)
            change(&entries)
            do {
                _ = try SimulatedAMDVendor(encoded: try CBORValue.map(entries).encoded())
                return nil
            } catch let error as SimulatedHardwareError {
                return error.reason
            }
        }
        #expect(try refusal { $0.removeAll { $0.key == "ask-key" } }?.contains("\"ask-key\"") == true)
        #expect(
            try refusal { entries in
                let arkKey = entries.first { $0.key == "ark-key" }!.value
                entries = entries.map { $0.key == "ask-key" ? CBORMapEntry("ask-key", arkKey) : $0 }
            }?.contains("\"ask-key\" is not the key of field \"ask\"") == true)
        #expect(
            try refusal { entries in
                entries = entries.map { $0.key == "product-line" ? CBORMapEntry("product-line", "Turin") : $0 }
            }?.contains("Turin") == true)
        #expect(
            try refusal { entries in
                entries = entries.map { $0.key == "version" ? CBORMapEntry("version", 2) : $0 }
            }?.contains("version 2") == true)
        #expect(throws: SimulatedHardwareError.self) { try SimulatedAMDCollateral(encoded: [0xA0]) }
        #expect(throws: SimulatedHardwareError.self) {
            try SimulatedAMDVendor.create(platformID: [1, 2], productLine: "Milan", rsaBits: 2048, at: Fixture.now)
        }
        #expect(throws: SimulatedHardwareError.self) {
            try SimulatedAMDVendor.create(
                platformID: Fixture.platformID, productLine: "Turin", rsaBits: 2048, at: Fixture.now)
        }
    }

    @Test("the KDS routes: the VCEK by hwID and TCB, the chains and the CRL; 404 and 400 otherwise")
    func kdsRoutes() throws {
        let old = try Fixture.collateral(SimulatedTCB(level: 2, latestLevel: 3))
        let current = try Fixture.collateral(SimulatedTCB(level: 3, latestLevel: 3))
        let kds = SimulatedKDS(published: [old, current])
        let hwID = hexEncoded(Fixture.vendor.hwID)
        func spl(_ level: Int) -> [String: String] {
            ["blSPL": "\(level)", "teeSPL": "0", "snpSPL": "\(level)", "ucodeSPL": "\(level)"]
        }
        let vcek = kds.respond(path: "/vcek/v1/Milan/\(hwID)", query: spl(3))
        #expect(vcek.status == 200 && vcek.body == current.vcekDER)
        #expect(vcek.headers.contains { $0.name == "Content-Type" && $0.value == "application/pkix-cert" })
        #expect(kds.respond(path: "/vcek/v1/Milan/\(hwID.uppercased())", query: spl(2)).body == old.vcekDER)
        #expect(kds.respond(path: "/vcek/v1/Milan/\(hwID)", query: spl(4)).status == 404)
        #expect(kds.respond(path: "/vcek/v1/Milan/\(String(repeating: "ab", count: 64))", query: spl(3)).status == 404)
        #expect(kds.respond(path: "/vcek/v1/Milan/\(hwID)", query: ["blSPL": "3"]).status == 400)
        #expect(kds.respond(path: "/vcek/v1/Genoa/\(hwID)", query: spl(3)).status == 404)
        let chain = kds.respond(path: "/vcek/v1/Milan/cert_chain", query: [:])
        #expect(chain.status == 200)
        let certificates = try X509Certificate.certificates(fromPEM: String(decoding: chain.body, as: UTF8.self))
        #expect(certificates == [current.ask, current.ark])
        let vlekChain = kds.respond(path: "/vlek/v1/Milan/cert_chain", query: [:])
        #expect(
            try X509Certificate.certificates(fromPEM: String(decoding: vlekChain.body, as: UTF8.self)) == [
                current.asvk, current.ark,
            ])
        let crl = kds.respond(path: "/vcek/v1/Milan/crl", query: [:])
        #expect(crl.status == 200 && crl.body == current.crlDER)
        let missing = kds.respond(path: "/vcek/v2/Milan/crl", query: [:])
        #expect(missing.status == 404 && String(decoding: missing.body, as: UTF8.self).contains("/vcek/v2/Milan/crl"))
        #expect(kds.respond(path: "/", query: [:]).status == 404)
        #expect(kds.respond(path: "/vlek/v1/Milan/\(hwID)", query: spl(3)).status == 404)
    }
}
