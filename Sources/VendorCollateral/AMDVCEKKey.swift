public import Attestation
import CloisterCrypto

/// An AMD EPYC product line whose VCEKs the KDS serves under `/vcek/v1/{name}/`, by the name the KDS takes.
///
/// Turin is not here: its VCEK URL takes an 8-byte hardware ID and an `fmcSPL` parameter, and its reported TCB has
/// another layout, which go-sev-guest's `kds.VCEKCertURL` (the reference Cloister follows) does not build.
public enum AMDProductLine: String, Sendable, Hashable, CaseIterable {
    case milan = "Milan"
    case genoa = "Genoa"

    /// The line of a CPU of `family` and `model` (a version 3 or later report's CPUID fields), as AMD's KDS
    /// specification ("Determining the Product Name") assigns them: family 19h with model 00h–0Fh is Milan, with
    /// model 10h–1Fh Genoa (go-sev-guest maps the models 01h and 11h within those ranges).
    public init?(family: UInt8, model: UInt8) {
        switch (family, model) {
        case (0x19, 0x00...0x0F): self = .milan
        case (0x19, 0x10...0x1F): self = .genoa
        default: return nil
        }
    }

    /// `given` when there is one, else the line `report`'s CPUID fields (version 3 and later) name; refused when
    /// neither says (a version 2 report states none) or the line is neither Milan nor Genoa.
    public init(report: SEVSNPReport, given: AMDProductLine?) throws(KDSError) {
        if let given {
            self = given
        } else if let cpuid = report.cpuid {
            guard let named = AMDProductLine(family: cpuid.family, model: cpuid.model) else {
                throw KDSError(
                    .unsupportedReport,
                    "the report's CPUID family 0x\(String(cpuid.family, radix: 16)) model 0x"
                        + "\(String(cpuid.model, radix: 16)) is neither Milan nor Genoa, the product lines whose "
                        + "VCEKs are fetched")
            }
            self = named
        } else {
            throw KDSError(
                .unsupportedReport,
                "the version \(report.version) report does not state its product line (CPUID fields come with "
                    + "version 3): give it (--product Milan or Genoa)")
        }
    }
}

/// Which VCEK a report is signed with, as the KDS names it: the product line, the chip's 64-byte hardware ID (the
/// report's CHIP_ID) and the security patch levels of its REPORTED_TCB.
public struct AMDVCEKKey: Sendable, Hashable, CustomStringConvertible {
    public let product: AMDProductLine
    /// 64 bytes.
    public let hardwareID: [UInt8]
    /// REPORTED_TCB in Milan's and Genoa's layout: the boot loader's SPL in byte 0, the TEE's in byte 1, SNP's in
    /// byte 6, the microcode's in byte 7.
    public let tcb: UInt64

    /// The VCEK `report` is signed with on `product` (`AMDProductLine(report:given:)`). Refuses a report not signed
    /// by a VCEK, and one whose chip ID is masked.
    public init(report: SEVSNPReport, product: AMDProductLine) throws(KDSError) {
        guard report.signingKey == .vcek else {
            throw KDSError(
                .unsupportedReport,
                "the report is signed by \(report.signingKey), not a VCEK: only VCEKs are fetched from the KDS")
        }
        guard !report.chipIDMasked, report.chipID.contains(where: { $0 != 0 }) else {
            throw KDSError(
                .unsupportedReport,
                "the report's CHIP_ID is masked (the host set MASK_CHIP_ID), so no VCEK can be fetched for it: give "
                    + "the VCEK (--vcek)")
        }
        self.init(product: product, hardwareID: report.chipID, tcb: report.reportedTCB)
    }

    public init(product: AMDProductLine, hardwareID: [UInt8], tcb: UInt64) {
        self.product = product
        self.hardwareID = hardwareID
        self.tcb = tcb
    }

    private func byte(_ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: tcb >> (8 * index)) }

    /// The VCEK's path and query under the KDS's base URL, exactly as go-sev-guest's `kds.VCEKCertURL` writes them
    /// (decimal levels, lower-case hex hardware ID).
    var path: String {
        "/vcek/v1/\(product.rawValue)/\(hexEncoded(hardwareID))?blSPL=\(byte(0))&teeSPL=\(byte(1))"
            + "&snpSPL=\(byte(6))&ucodeSPL=\(byte(7))"
    }

    /// The cache file's name: `vcek-Milan-{hardware ID}-{TCB, 16 hex digits}.der`.
    var fileName: String {
        let tcbHex = String(tcb, radix: 16)
        return "vcek-\(product.rawValue)-\(hexEncoded(hardwareID))-\(String(repeating: "0", count: 16 - tcbHex.count))"
            + "\(tcbHex).der"
    }

    public var description: String {
        "the \(product.rawValue) VCEK of chip \(hexEncoded(Array(hardwareID.prefix(8))))… at TCB 0x"
            + String(tcb, radix: 16)
    }
}
