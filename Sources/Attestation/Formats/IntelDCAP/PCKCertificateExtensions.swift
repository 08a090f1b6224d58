public import CloisterCrypto

/// Intel's SGX extensions of a PCK certificate (OID 1.2.840.113741.1.13.1; Intel SGX PCK Certificate and CRL Profile):
/// the platform's identity and the TCB level the PCK was issued for, which TCB info is matched against.
///
/// A SEQUENCE of (OID, value) pairs: PPID (16 octets), TCB (a SEQUENCE of the 16 SGX TCB component SVNs, the PCESVN
/// and the CPUSVN), PCE-ID (2 octets), FMSPC (6 octets), SGX type (ENUMERATED: 0 standard, 1 scalable, 2 scalable
/// with integrity), and for certificates of the Platform CA the platform instance id and the configuration. Every
/// required item must be present once; an unknown item is refused, as an extension this reader does not know could
/// change what the certificate means.
public struct PCKCertificateExtensions: Sendable, Hashable {
    /// The extension's object identifier.
    public static let oid = "1.2.840.113741.1.13.1"

    public let ppid: [UInt8]
    /// The 16 SGX TCB component SVNs, component 1 first.
    public let componentSVNs: [Int]
    public let pceSVN: Int
    public let cpuSVN: [UInt8]
    public let pceID: [UInt8]
    public let fmspc: [UInt8]
    /// 0 standard, 1 scalable, 2 scalable with integrity.
    public let sgxType: Int
    /// Certificates of the Platform CA only.
    public let platformInstanceID: [UInt8]?
    public let configuration: Configuration?

    /// The SGX extensions of `certificate`; refused, naming the item, when absent, duplicated or malformed.
    public init(of certificate: X509Certificate) throws(AttestationError) {
        let subject = "the SGX extensions of PCK certificate \(certificate.description)"
        let matching = certificate.extensions.filter { $0.oid == Self.oid }
        guard matching.count == 1, let value = matching.first?.value else {
            throw AttestationError(
                .malformedEvidence,
                "PCK certificate \(certificate.description) has \(matching.count) SGX extensions "
                    + "(\(Self.oid)), not one")
        }
        try self.init(der: value[...], subject: subject)
    }

    /// Reads the extension's value (`der`, the DER of its SEQUENCE).
    init(der: ArraySlice<UInt8>, subject: String) throws(AttestationError) {
        var outer = DERReader(der, subject: subject)
        var items = DERReader(try outer.read(DERReader.sequence, "the extension"), subject: subject)
        guard outer.isAtEnd else { throw outer.refusal("bytes follow the extension's SEQUENCE") }
        var found: [String: DERReader] = [:]
        while !items.isAtEnd {
            var item = DERReader(try items.read(DERReader.sequence, "an item"), subject: subject)
            let oid = try item.objectIdentifier("an item's identifier")
            guard oid.hasPrefix(Self.oid + "."), Self.items.contains(String(oid.dropFirst(Self.oid.count + 1))) else {
                throw items.refusal("item \(oid) is not one of the SGX extensions' items")
            }
            guard found[oid] == nil else { throw items.refusal("item \(oid) appears twice") }
            found[oid] = item
        }
        func item(_ arc: String, _ name: String) throws(AttestationError) -> DERReader {
            guard let reader = found["\(Self.oid).\(arc)"] else {
                throw outer.refusal("the \(name) item (\(Self.oid).\(arc)) is missing")
            }
            return reader
        }
        func finished(_ reader: DERReader, _ name: String) throws(AttestationError) {
            guard reader.isAtEnd else { throw reader.refusal("bytes follow the \(name)") }
        }
        var ppidItem = try item("1", "PPID")
        ppid = try ppidItem.octets("the PPID", count: 16)
        try finished(ppidItem, "PPID")
        var tcbItem = try item("2", "TCB")
        var tcb = DERReader(try tcbItem.read(DERReader.sequence, "the TCB"), subject: subject)
        try finished(tcbItem, "TCB")
        var svns: [Int] = []
        var pce: Int?
        var cpu: [UInt8]?
        for index in 1...18 {
            var component = DERReader(try tcb.read(DERReader.sequence, "TCB component \(index)"), subject: subject)
            let oid = try component.objectIdentifier("TCB component \(index)'s identifier")
            guard oid == "\(Self.oid).2.\(index)" else {
                throw tcb.refusal("TCB component \(index) is \(oid), not \(Self.oid).2.\(index)")
            }
            switch index {
            case 17: pce = try component.unsigned("the PCESVN", maximum: 0xFFFF)
            case 18: cpu = try component.octets("the CPUSVN", count: 16)
            default: svns.append(try component.unsigned("TCB component \(index)'s SVN", maximum: 0xFF))
            }
            try finished(component, "TCB component \(index)")
        }
        try finished(tcb, "TCB's 18 components")
        guard let pce, let cpu else { throw tcb.refusal("the TCB lacks its PCESVN or CPUSVN") }
        componentSVNs = svns
        pceSVN = pce
        cpuSVN = cpu
        var pceIDItem = try item("3", "PCE-ID")
        pceID = try pceIDItem.octets("the PCE-ID", count: 2)
        try finished(pceIDItem, "PCE-ID")
        var fmspcItem = try item("4", "FMSPC")
        fmspc = try fmspcItem.octets("the FMSPC", count: 6)
        try finished(fmspcItem, "FMSPC")
        var typeItem = try item("5", "SGX type")
        sgxType = try typeItem.unsigned("the SGX type", tag: DERReader.enumerated, maximum: 2)
        try finished(typeItem, "SGX type")
        if var instance = found["\(Self.oid).6"] {
            platformInstanceID = try instance.octets("the platform instance id", count: 16)
            try finished(instance, "platform instance id")
        } else {
            platformInstanceID = nil
        }
        if var item = found["\(Self.oid).7"] {
            var flags = DERReader(try item.read(DERReader.sequence, "the configuration"), subject: subject)
            try finished(item, "configuration")
            var values: [Int: Bool] = [:]
            while !flags.isAtEnd {
                var flag = DERReader(try flags.read(DERReader.sequence, "a configuration flag"), subject: subject)
                let oid = try flag.objectIdentifier("a configuration flag's identifier")
                guard let index = Int(oid.dropFirst("\(Self.oid).7.".count)), oid.hasPrefix("\(Self.oid).7."),
                    (1...3).contains(index), values[index] == nil
                else { throw flags.refusal("configuration flag \(oid) is unknown or repeated") }
                values[index] = try flag.boolean("configuration flag \(oid)")
                try finished(flag, "configuration flag \(oid)")
            }
            configuration = Configuration(dynamicPlatform: values[1], cachedKeys: values[2], smtEnabled: values[3])
        } else {
            configuration = nil
        }
    }

    /// The platform's configuration, as a Platform CA's PCK certificate states it (each flag when present).
    public struct Configuration: Sendable, Hashable {
        public let dynamicPlatform: Bool?
        public let cachedKeys: Bool?
        public let smtEnabled: Bool?
    }

    /// The arcs below `oid` an SGX extension may hold.
    private static let items: Set<String> = ["1", "2", "3", "4", "5", "6", "7"]
}
