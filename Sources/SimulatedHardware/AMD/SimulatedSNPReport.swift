import Attestation
import CloisterCrypto

/// Which endorsement key signs a simulated SEV-SNP report.
public enum SimulatedSNPSigningKey: Sendable, Hashable {
    /// The chip's VCEK at the platform's reported TCB (key-info signing key 0).
    case vcek
    /// The cloud provider's VLEK at that TCB, certified by the ASVK (key-info signing key 1).
    case vlek
}

/// Writes SEV-SNP ATTESTATION_REPORT structures (1184 bytes, little endian; the layout `SEVSNPReport` and
/// go-sev-guest's `abi.ReportToProto` read) from a simulated enclave, by the rules in `SimulatedAMDVendor`'s
/// documentation, and signs them.
enum SimulatedSNPReport {
    /// The fields of one report before it is signed.
    struct Fields {
        var version: UInt32
        var enclave: SimulatedEnclave
        /// REPORTED_TCB, CURRENT_TCB, COMMITTED_TCB and LAUNCH_TCB (Milan and Genoa layout).
        var tcb: UInt64
        var level: UInt32
        var chipID: [UInt8]
        var signingKey: SimulatedSNPSigningKey
        /// CPUID family, model and stepping of the product (versions 3 and later).
        var cpuid: (family: UInt8, model: UInt8, stepping: UInt8)
    }

    /// The firmware version the simulated platform reports as current and committed: 1.55, its build the TCB level
    /// (clamped to 255), so the version moves in step with the TCB.
    static let firmwareMajor: UInt8 = 1
    static let firmwareMinor: UInt8 = 55

    /// The guest policy: SMT allowed (bit 16), the reserved bit 17 set, DEBUG (bit 19) when the enclave is debuggable,
    /// ABI minimum 0.0, no migration agent, not single-socket.
    static func policy(debug: Bool) -> UInt64 {
        (1 << 16) | (1 << 17) | (debug ? 1 << 19 : 0)
    }

    /// The report `fields` describe, signed with `key` (ECDSA P-384 with SHA-384 over bytes 0x000–0x29F, r and s
    /// little endian in 72-byte fields at 0x2A0 and 0x2E8).
    static func signed(_ fields: Fields, key: ECPrivateKey) throws -> [UInt8] {
        var report = unsigned(fields)
        let signature = try key.signature(for: Array(report[..<SEVSNPReport.signedByteCount]), digest: .sha384)
        let raw = signature.rawRepresentation
        report.replaceSubrange(0x2A0..<0x2A0 + 48, with: raw[..<48].reversed())
        report.replaceSubrange(0x2A0 + 72..<0x2A0 + 72 + 48, with: raw[48...].reversed())
        return report
    }

    static func unsigned(_ fields: Fields) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: SEVSNPReportHeader.byteCount)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { bytes.replaceSubrange(offset..<offset + $0.count, with: $0) }
        }
        func put(_ field: [UInt8], at offset: Int, count: Int) {
            let padded = Array(field.prefix(count)) + [UInt8](repeating: 0, count: max(0, count - field.count))
            bytes.replaceSubrange(offset..<offset + count, with: padded)
        }
        let enclave = fields.enclave
        put(fields.version, at: 0x00)
        put(UInt32(enclave.svn), at: 0x04)
        put(policy(debug: enclave.debug), at: 0x08)
        put(withUnsafeBytes(of: enclave.productID.littleEndian, Array.init), at: 0x10, count: 16)  // FAMILY_ID
        // IMAGE_ID (0x20) stays zero; VMPL (0x30) is 0.
        put(SEVSNPReportHeader.ecdsaP384SHA384, at: 0x34)
        put(fields.tcb, at: 0x38)  // CURRENT_TCB
        put(UInt64(1), at: 0x40)  // PLATFORM_INFO: SMT enabled
        put(UInt32(fields.signingKey == .vcek ? 0 : 1) << 2, at: 0x48)  // KEY_INFO: the signing key, CHIP_ID not masked
        put(enclave.reportData, at: 0x50, count: 64)
        put(enclave.measurement, at: 0x90, count: 48)
        put(enclave.manifestHash, at: 0xC0, count: 32)  // HOST_DATA
        put(enclave.signer, at: 0xE0, count: 48)  // ID_KEY_DIGEST; AUTHOR_KEY_DIGEST (0x110) stays zero
        put(reportID(fields), at: 0x140, count: 32)
        put([UInt8](repeating: 0xFF, count: 32), at: 0x160, count: 32)  // REPORT_ID_MA: no migration agent
        put(fields.tcb, at: 0x180)  // REPORTED_TCB
        if fields.version >= 3 {
            bytes[0x188] = fields.cpuid.family
            bytes[0x189] = fields.cpuid.model
            bytes[0x18A] = fields.cpuid.stepping
        }
        put(fields.chipID, at: 0x1A0, count: 64)
        put(fields.tcb, at: 0x1E0)  // COMMITTED_TCB
        let build = UInt8(min(fields.level, 255))
        for offset in [0x1E8, 0x1EC] {  // CURRENT and COMMITTED version: build, minor, major
            bytes[offset] = build
            bytes[offset + 1] = firmwareMinor
            bytes[offset + 2] = firmwareMajor
        }
        put(fields.tcb, at: 0x1F0)  // LAUNCH_TCB
        if fields.version >= 5 {
            put(mitigationVector(level: fields.level), at: 0x1F8)  // LAUNCH_MIT_VECTOR
            put(mitigationVector(level: fields.level), at: 0x200)  // CURRENT_MIT_VECTOR
        }
        return bytes
    }

    /// Version 5's mitigation vectors: bit i set for each TCB recovery up to the platform's level (bits 0 to
    /// level - 1), the same at launch and now.
    static func mitigationVector(level: UInt32) -> UInt64 {
        level >= 64 ? .max : (1 << UInt64(level)) - 1
    }

    /// REPORT_ID: the first 32 bytes of SHA-384 over a label, the chip id and the enclave's measurement and manifest,
    /// the same for every report of one enclave on one chip, as one guest's reports share their id.
    static func reportID(_ fields: Fields) -> [UInt8] {
        let label = Array("cloister-snp-report-id-v1".utf8)
        return Array(
            DigestAlgorithm.sha384.hash(
                label + fields.chipID + fields.enclave.measurement + fields.enclave.manifestHash
            )
            .prefix(32))
    }
}

/// A chip's signer of SEV-SNP reports at one TCB with one endorsement key (VCEK or VLEK), its private key derived
/// once (`SimulatedAMDVendor.signer`): each report then costs its one P-384 signature.
public struct SimulatedSNPSigner: Sendable {
    let key: ECPrivateKey
    let signingKey: SimulatedSNPSigningKey
    let tcb: UInt64
    let level: UInt32
    let chipID: [UInt8]
    let cpuid: (family: UInt8, model: UInt8, stepping: UInt8)

    /// A fresh report (version 2, 3 or 5) for `enclave`.
    public func report(version: UInt32, enclave: SimulatedEnclave) throws -> [UInt8] {
        guard SimulatedAMDVendor.reportVersions.contains(version) else {
            throw SimulatedHardwareError(.invalidRequest, "an SEV-SNP report is version 2, 3 or 5, not \(version)")
        }
        guard enclave.measurement.count == 48, enclave.signer.count == 48, enclave.reportData.count == 64,
            enclave.manifestHash.count >= 32
        else {
            throw SimulatedHardwareError(
                .invalidRequest,
                "the enclave's measurement and signer are 48 bytes, its report data 64 and its manifest hash 48")
        }
        return try SimulatedSNPReport.signed(
            SimulatedSNPReport.Fields(
                version: version, enclave: enclave, tcb: tcb, level: level, chipID: chipID, signingKey: signingKey,
                cpuid: cpuid),
            key: key)
    }
}
