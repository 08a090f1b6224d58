import CloisterCBOR
public import CloisterCrypto

/// What the simulated AMD vendor publishes for one platform at one TCB (`SimulatedAMDVendor.publish`): the chip's
/// VCEK for the platform's reported TCB (and the VLEK, when the vendor has a cloud provider), the ASK→ARK and
/// ASVK→ARK chains, and the ARK's CRL. Stored in the platform's home as deterministic CBOR (`encoded()`).
public struct SimulatedAMDCollateral: Sendable, Hashable {
    /// "Milan" or "Genoa".
    public let productLine: String
    /// The chip's 64-byte hwID (a report's CHIP_ID).
    public let hwID: [UInt8]
    /// The TCB_VERSION (Milan and Genoa layout) the VCEK and VLEK were issued for: a report's REPORTED_TCB.
    public let reportedTCB: UInt64
    public let vcek: X509Certificate
    public let vlek: X509Certificate?
    public let ask: X509Certificate
    public let asvk: X509Certificate
    public let ark: X509Certificate
    /// The ARK's CRL (RSA-PSS), listing the ASK and ASVK when the platform's keys are revoked.
    public let crl: CertificateRevocationList

    init(
        productLine: String, hwID: [UInt8], reportedTCB: UInt64, vcek: X509Certificate, vlek: X509Certificate?,
        ask: X509Certificate, asvk: X509Certificate, ark: X509Certificate, crl: CertificateRevocationList
    ) {
        self.productLine = productLine
        self.hwID = hwID
        self.reportedTCB = reportedTCB
        self.vcek = vcek
        self.vlek = vlek
        self.ask = ask
        self.asvk = asvk
        self.ark = ark
        self.crl = crl
    }

    /// The VCEK, DER (what the KDS serves at `/vcek/v1/{product}/{hwid}?…`).
    public var vcekDER: [UInt8] { vcek.derRepresentation }
    /// The ASK then the ARK, PEM (what the KDS serves at `/vcek/v1/{product}/cert_chain`).
    public var chainPEM: String { ask.pemRepresentation + ark.pemRepresentation }
    /// The ASVK then the ARK, PEM (what the KDS serves at `/vlek/v1/{product}/cert_chain`).
    public var vlekChainPEM: String { asvk.pemRepresentation + ark.pemRepresentation }
    /// The ARK's CRL, DER (what the KDS serves at `/vcek/v1/{product}/crl`).
    public var crlDER: [UInt8] { crl.derRepresentation }

    private static let subject = "the simulated AMD collateral"
    private static let version: UInt64 = 1

    /// Reads collateral `encoded()` wrote; refusals name the field at fault.
    public init(encoded bytes: [UInt8]) throws(SimulatedHardwareError) {
        let record = try VendorRecord(decoding: bytes, subject: Self.subject, version: Self.version)
        productLine = try record.text("product-line")
        guard SimulatedAMDVendor.productLines[productLine] != nil else {
            throw SimulatedHardwareError(
                .malformedState, "\(Self.subject): field \"product-line\" is \(productLine), not Milan or Genoa")
        }
        hwID = try record.bytes("hwid", count: 64)
        reportedTCB = try record.unsigned("reported-tcb")
        vcek = try record.certificate("vcek")
        vlek = try record.optionalCertificate("vlek")
        ask = try record.certificate("ask")
        asvk = try record.certificate("asvk")
        ark = try record.certificate("ark")
        crl = try record.revocationList("crl")
    }

    /// Deterministic CBOR: a map of the product line, hwID, reported TCB, the certificates (DER) and the CRL (DER).
    public func encoded() throws(SimulatedHardwareError) -> [UInt8] {
        var record = VendorRecord(subject: Self.subject)
        record["version"] = .unsigned(Self.version)
        record["product-line"] = .text(productLine)
        record["hwid"] = .bytes(hwID)
        record["reported-tcb"] = .unsigned(reportedTCB)
        record["vcek"] = .bytes(vcek.derRepresentation)
        record["vlek"] = vlek.map { .bytes($0.derRepresentation) }
        record["ask"] = .bytes(ask.derRepresentation)
        record["asvk"] = .bytes(asvk.derRepresentation)
        record["ark"] = .bytes(ark.derRepresentation)
        record["crl"] = .bytes(crl.derRepresentation)
        return try record.encoded()
    }
}
