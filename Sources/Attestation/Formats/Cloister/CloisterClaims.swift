import CloisterCBOR

/// The `cloister` extension of a Cloister quote: what a simulated platform states beyond the Nitro fields.
public struct CloisterClaims: Sendable, Hashable {
    /// Always true as a platform writes it. A verifier never relies on it (simulation is known by the trust anchor)
    /// and refuses a quote that says false.
    public var simulated: Bool
    public var debug: Bool
    public var productID: UInt16
    public var svn: UInt16
    /// The platform's TCB level when it made the quote.
    public var tcbLevel: UInt32
    /// The platform's 16-byte id, as in its certificate.
    public var platformID: [UInt8]
    /// SHA-384 of the enclave's canonical manifest.
    public var manifestHash: [UInt8]
    /// The isolation mechanisms the platform actually applied, by name, sorted.
    public var isolation: [String]

    public init(
        simulated: Bool, debug: Bool, productID: UInt16, svn: UInt16, tcbLevel: UInt32, platformID: [UInt8],
        manifestHash: [UInt8], isolation: [String]
    ) {
        self.simulated = simulated
        self.debug = debug
        self.productID = productID
        self.svn = svn
        self.tcbLevel = tcbLevel
        self.platformID = platformID
        self.manifestHash = manifestHash
        self.isolation = isolation.sorted()
    }

    /// Writes the claims map in canonical key order: svn, debug, isolation, simulated, tcb_level, product_id,
    /// platform_id, manifest_hash.
    func write(_ writer: inout CBORWriter) {
        writer.writeHead(major: 5, argument: 8)
        writer.writeText("svn")
        writer.writeHead(major: 0, argument: UInt64(svn))
        writer.writeText("debug")
        writer.writeHead(major: 7, argument: debug ? 21 : 20)
        writer.writeText("isolation")
        writer.writeHead(major: 4, argument: UInt64(isolation.count))
        for name in isolation { writer.writeText(name) }
        writer.writeText("simulated")
        writer.writeHead(major: 7, argument: simulated ? 21 : 20)
        writer.writeText("tcb_level")
        writer.writeHead(major: 0, argument: UInt64(tcbLevel))
        writer.writeText("product_id")
        writer.writeHead(major: 0, argument: UInt64(productID))
        writer.writeText("platform_id")
        writer.writeByteString(platformID)
        writer.writeText("manifest_hash")
        writer.writeByteString(manifestHash)
    }

    init(_ value: CBORValue) throws(AttestationError) {
        guard let entries = value.mapValue, entries.count == 8 else {
            throw AttestationDocument.malformed("\"cloister\" is not a map of its 8 claims")
        }
        // One pass over the claims; an unknown name leaves one of the eight missing, which is refused below.
        var simulated, debug: Bool?
        var productID, svn, tcbLevel: UInt64?
        var platformID, manifestHash: [UInt8]?
        var isolation: [CBORValue]?
        for entry in entries {
            switch entry.key.textValue {
            case "simulated": simulated = entry.value.boolValue
            case "debug": debug = entry.value.boolValue
            case "product_id": productID = entry.value.uint64Value
            case "svn": svn = entry.value.uint64Value
            case "tcb_level": tcbLevel = entry.value.uint64Value
            case "platform_id": platformID = entry.value.bytesValue
            case "manifest_hash": manifestHash = entry.value.bytesValue
            case "isolation": isolation = entry.value.arrayValue
            default: break
            }
        }
        guard let simulated, let debug, let productID, productID <= UInt64(UInt16.max), let svn,
            svn <= UInt64(UInt16.max), let tcbLevel, tcbLevel <= UInt64(UInt32.max), let platformID,
            platformID.count == PlatformCertificateExtensions.platformIDByteCount, let manifestHash,
            manifestHash.count == 48, let isolation
        else {
            throw AttestationDocument.malformed(
                "\"cloister\" claims are missing or mistyped (simulated, debug, product_id, svn, tcb_level, "
                    + "platform_id: 16 bytes, manifest_hash: 48 bytes, isolation)")
        }
        let names = try isolation.map { item throws(AttestationError) in
            guard let name = item.textValue else {
                throw AttestationDocument.malformed("\"cloister\".isolation holds a non-text item")
            }
            return name
        }
        self.init(
            simulated: simulated, debug: debug, productID: UInt16(productID), svn: UInt16(svn),
            tcbLevel: UInt32(tcbLevel), platformID: platformID, manifestHash: manifestHash, isolation: names)
    }
}
