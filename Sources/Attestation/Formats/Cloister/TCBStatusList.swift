import CloisterCBOR
public import CloisterCrypto
public import FoundationEssentials

/// A platform vendor's signed statement of which TCB levels are current: every level below `latestLevel` is out of
/// date, the latest is up to date (as Intel's TCB info marks older SVN sets `OutOfDate`).
///
/// A COSE_Sign1 signed by the platform root key; its payload is the deterministic CBOR map
/// {"format": "cloister-tcb-status-v1", "issued": ms since the epoch, "latest": level, "platform_id": 16 bytes}.
public struct TCBStatusList: Sendable, Hashable {
    /// The payload's format marker.
    public static let format = "cloister-tcb-status-v1"

    /// The platform the list speaks for.
    public let platformID: [UInt8]
    /// The newest level; levels below it are out of date.
    public let latestLevel: UInt32
    /// When the vendor issued the list.
    public let issued: Date

    public init(platformID: [UInt8], latestLevel: UInt32, issued: Date) {
        self.platformID = platformID
        self.latestLevel = latestLevel
        self.issued = issued
    }

    /// The standing of `level`.
    public func status(of level: UInt32) -> TCBStatus {
        level == latestLevel ? .upToDate : level < latestLevel ? .outOfDate : .unknown
    }

    /// The list signed by `rootKey`, as tagged COSE_Sign1 bytes.
    public func signed(with rootKey: ECPrivateKey) throws -> [UInt8] {
        let payload: CBORValue = [
            "format": .text(Self.format),
            "issued": .unsigned(issued.millisecondsSince1970),
            "latest": .unsigned(UInt64(latestLevel)),
            "platform_id": .bytes(platformID),
        ]
        return try COSESign1(signing: payload.encoded(), with: rootKey).encoded()
    }

    /// Verifies `encoded` with `root`'s key and decodes it.
    public init(encoded: [UInt8], root: X509Certificate) throws(AttestationError) {
        let message: COSESign1
        let key: ECPublicKey
        do {
            message = try COSESign1(encoded: encoded)
            key = try root.publicKey()
        } catch {
            throw AttestationError(.malformedEvidence, "TCB-status list is not a COSE_Sign1 message: \(error)")
        }
        do {
            try message.verifySignature(with: key)
        } catch {
            throw AttestationError(
                .badSignature, "TCB-status list is not signed by the platform root \(root): \(error)")
        }
        guard let value = try? CBORDecoder().decode(message.payload), value.mapValue?.count == 4,
            value["format"]?.textValue == Self.format, let issued = value["issued"]?.uint64Value,
            let latest = value["latest"]?.uint64Value, latest <= UInt64(UInt32.max),
            let platformID = value["platform_id"]?.bytesValue,
            platformID.count == PlatformCertificateExtensions.platformIDByteCount
        else {
            throw AttestationError(
                .malformedEvidence,
                "TCB-status list payload is not a \(Self.format) map {format, issued, latest, platform_id}")
        }
        self.init(
            platformID: platformID, latestLevel: UInt32(latest),
            issued: Date(millisecondsSince1970: issued))
    }
}
