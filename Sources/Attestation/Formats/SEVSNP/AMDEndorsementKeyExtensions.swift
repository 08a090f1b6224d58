public import CloisterCrypto

/// What AMD's Key Distribution Service states in a VCEK or VLEK certificate, under 1.3.6.1.4.1.3704.1 (AMD's
/// "Versioned Chip Endorsement Key" specification; read as google/go-sev-guest's `kds` package reads them): the
/// structure version (.1), the product name (.2, "Milan-B0"), the TCB the key was derived for (.3.1 bootloader,
/// .3.2 TEE, .3.3 SNP, .3.4–.3.7 reserved SPLs, .3.8 microcode: each an INTEGER 0–255), and the chip's hwID (.4, 64
/// bytes, as AMD writes it without its OCTET STRING tag, or with it; a VCEK's) or the cloud provider's id (.5, an IA5String; a VLEK's), never both.
public struct AMDEndorsementKeyExtensions: Sendable, Hashable {
    /// AMD's arc for KDS extensions.
    public static let oidPrefix = "1.3.6.1.4.1.3704.1"

    public let structVersion: Int
    public let productName: String
    /// The product line: the product name up to its stepping ("Milan" of "Milan-B0").
    public var productLine: String { String(productName.prefix { $0 != "-" }) }
    /// The TCB as a report's TCB_VERSION packs it for the product: Milan and Genoa bootloader in byte 0, TEE 1,
    /// SPL4–7 in 2–5, SNP 6, microcode 7; Turin FMC in byte 0, bootloader 1, TEE 2, SNP 3, microcode 7.
    public let tcb: UInt64
    /// A VCEK's chip id (the report's CHIP_ID), or nil.
    public let hardwareID: [UInt8]?
    /// A VLEK's cloud service provider id, or nil.
    public let cloudServiceProviderID: String?

    /// Reads the extensions of `certificate`; refused, naming the extension at fault, when one is missing or not of
    /// its type, a TCB part is above 127 (bootloader, TEE, SNP, SPL4–7), or the hwID and provider id are both there.
    public init(of certificate: X509Certificate) throws(AttestationError) {
        let subject = "the AMD endorsement key certificate \(certificate.description)"
        func value(_ arc: String) -> [UInt8]? {
            certificate.extension(oid: "\(Self.oidPrefix).\(arc)")?.value
        }
        func integer(_ arc: String, _ name: String) throws(AttestationError) -> UInt64 {
            guard let bytes = value(arc) else {
                throw AttestationError(
                    .malformedEvidence, "\(subject) has no \(name) extension (\(Self.oidPrefix).\(arc))")
            }
            var reader = DERReader(bytes[...], subject: subject)
            let number = try reader.unsigned(name, maximum: 255)
            guard reader.isAtEnd else { throw reader.refusal("\(name) has bytes after its integer") }
            return UInt64(number)
        }
        func text(_ arc: String, _ name: String) throws(AttestationError) -> String? {
            guard let bytes = value(arc) else { return nil }
            var reader = DERReader(bytes[...], subject: subject)
            let content = try reader.read(0x16, name)
            guard reader.isAtEnd, content.allSatisfy({ $0 < 0x80 }) else {
                throw reader.refusal("\(name) is not one IA5String")
            }
            return String(decoding: content, as: UTF8.self)
        }
        structVersion = Int(try integer("1", "structure version"))
        guard let product = try text("2", "product name") else {
            throw AttestationError(.malformedEvidence, "\(subject) has no product name extension (\(Self.oidPrefix).2)")
        }
        productName = product
        // Milan and Genoa pack TCB_VERSION as bootloader, TEE, SPL 4-7, SNP, microcode (bytes 0 to 7); Turin as FMC,
        // bootloader, TEE, SNP (bytes 0 to 3) and microcode (byte 7), its VCEKs adding the FMC SPL (.3.9).
        let parts: [(arc: String, name: String, shift: UInt64)] =
            product.hasPrefix("Turin")
            ? [
                ("3.9", "FMC SPL", 0), ("3.1", "bootloader SPL", 8), ("3.2", "TEE SPL", 16), ("3.3", "SNP SPL", 24),
                ("3.8", "microcode SPL", 56),
            ]
            : [
                ("3.1", "bootloader SPL", 0), ("3.2", "TEE SPL", 8), ("3.4", "SPL 4", 16), ("3.5", "SPL 5", 24),
                ("3.6", "SPL 6", 32), ("3.7", "SPL 7", 40), ("3.3", "SNP SPL", 48), ("3.8", "microcode SPL", 56),
            ]
        var tcb: UInt64 = 0
        for part in parts {
            let number = try integer(part.arc, part.name)
            guard number <= 127 || part.arc == "3.8" else {
                throw AttestationError(.malformedEvidence, "\(subject): its \(part.name) is \(number), above 127")
            }
            tcb |= number << part.shift
        }
        self.tcb = tcb
        if let bytes = value("4") {
            if bytes.count == 64 {
                // AMD's KDS writes the hwID's 64 bytes without the OCTET STRING tag.
                hardwareID = bytes
            } else {
                var reader = DERReader(bytes[...], subject: subject)
                hardwareID = try reader.octets("hwID", count: 64)
                guard reader.isAtEnd else { throw reader.refusal("hwID has bytes after its octet string") }
            }
        } else {
            hardwareID = nil
        }
        cloudServiceProviderID = try text("5", "cloud service provider id")
        guard hardwareID == nil || cloudServiceProviderID == nil else {
            throw AttestationError(.malformedEvidence, "\(subject) states both a hwID and a cloud service provider id")
        }
    }
}
