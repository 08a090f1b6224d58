import Attestation
import CloisterCrypto
import Foundation
import SimulatedHardware

/// One simulated AMD vendor (Milan, RSA-2048 to keep the suites fast; AMD's are 4096) with a cloud provider's VLEK,
/// made once for every test, and the time everything is issued and verified at.
enum SimulatedAMDFixture {
    static let now = Date(timeIntervalSince1970: 1_767_225_600)
    static let platformID = [UInt8](0..<16)
    static let vendor: SimulatedAMDVendor = {
        do {
            return try SimulatedAMDVendor.create(
                platformID: platformID, productLine: "Milan", rsaBits: 2048, at: now,
                cloudServiceProviderID: "Cloister Simulated Cloud")
        } catch {
            fatalError("the simulated AMD vendor: \(error)")
        }
    }()

    static let enclave = SimulatedEnclave(
        measurement: (0..<48).map { UInt8($0) }, signer: (0..<48).map { UInt8(0x80 + $0) }, productID: 0x1234,
        svn: 7, debug: false, manifestHash: (0..<48).map { UInt8(0x40 + $0) },
        reportData: (0..<64).map { UInt8(0xC0 &+ $0) })

    static func collateral(_ tcb: SimulatedTCB) throws -> SimulatedAMDCollateral {
        try vendor.publish(tcb, at: now)
    }

    /// Trust as the snp format's: the simulated ARK as the root, with the CRL when given.
    static func trust(_ collateral: SimulatedAMDCollateral, crl: Bool = true) -> TrustStore {
        TrustStore([
            .snp: TrustStore.FormatTrust(roots: [vendor.arkCertificate], revocationLists: crl ? [collateral.crl] : [])
        ])
    }
}
