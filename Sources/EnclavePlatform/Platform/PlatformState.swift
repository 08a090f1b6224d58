import Attestation
import CloisterCBOR
import CloisterCrypto
import EnclaveProtocol
import FoundationEssentials
import SimulatedHardware

/// The platform's non-secret bookkeeping (`platform.cbor`): its id and signing algorithm, its TCB level and the
/// latest one published, whether its configuration needs attention, and what its root CRL lists.
struct PlatformState: Sendable, Hashable {
    static let version: UInt64 = 2

    var platformID: [UInt8]
    var curve: ECCurve
    /// The level the platform runs at now.
    var tcbLevel: UInt32
    /// The highest level ever published in the TCB-status list.
    var latestTCBLevel: UInt32
    /// The number of the last CRLs issued.
    var crlNumber: UInt64
    /// Serial numbers the root has revoked, with when (ms since the epoch).
    var revoked: [RevokedCertificate]
    /// Whether the current platform certificate is revoked.
    var isRevoked: Bool
    /// Whether the vendors say the platform's configuration needs attention at its level.
    var configurationNeeded = false

    /// The TCB the simulated vendors publish for this state.
    var simulatedTCB: SimulatedTCB {
        SimulatedTCB(
            level: tcbLevel, latestLevel: latestTCBLevel, configurationNeeded: configurationNeeded,
            isRevoked: isRevoked)
    }

    func encoded() throws -> [UInt8] {
        try CBORValue.map([
            CBORMapEntry("v", .unsigned(Self.version)),
            CBORMapEntry("platform_id", .bytes(platformID)),
            CBORMapEntry("curve", .text(curve.rawValue)),
            CBORMapEntry("tcb_level", .unsigned(UInt64(tcbLevel))),
            CBORMapEntry("latest_tcb_level", .unsigned(UInt64(latestTCBLevel))),
            CBORMapEntry("crl_number", .unsigned(crlNumber)),
            CBORMapEntry(
                "revoked",
                .array(
                    revoked.map {
                        [
                            "serial": .bytes($0.serialNumber),
                            "date": .unsigned(UInt64($0.revocationDate.millisecondsSince1970)),
                        ]
                    })),
            CBORMapEntry("is_revoked", .bool(isRevoked)),
            CBORMapEntry("configuration_needed", .bool(configurationNeeded)),
        ]).encoded()
    }

    init(
        platformID: [UInt8], curve: ECCurve, tcbLevel: UInt32, latestTCBLevel: UInt32, crlNumber: UInt64,
        revoked: [RevokedCertificate], isRevoked: Bool
    ) {
        self.platformID = platformID
        self.curve = curve
        self.tcbLevel = tcbLevel
        self.latestTCBLevel = latestTCBLevel
        self.crlNumber = crlNumber
        self.revoked = revoked
        self.isRevoked = isRevoked
    }

    init(encoded bytes: [UInt8], path: String) throws {
        let corrupt = PlatformError(.corruptState, "\(path) is not a version-\(Self.version) platform state map")
        if let value = try? CBORDecoder().decode(bytes), let version = value["v"]?.uint64Value, version < Self.version {
            throw PlatformError(
                .corruptState,
                "\(path) is a platform of an earlier Cloister (state version \(version), without simulated vendors): "
                    + "remove its home and run `cloister platform init` again")
        }
        guard let value = try? CBORDecoder().decode(bytes), value["v"]?.uint64Value == Self.version,
            let platformID = value["platform_id"]?.bytesValue, platformID.count == 16,
            let curveName = value["curve"]?.textValue, let curve = ECCurve(rawValue: curveName),
            let tcbLevel = value["tcb_level"]?.uint64Value, tcbLevel <= UInt64(UInt32.max),
            let latest = value["latest_tcb_level"]?.uint64Value, latest <= UInt64(UInt32.max),
            let crlNumber = value["crl_number"]?.uint64Value, let revokedItems = value["revoked"]?.arrayValue,
            let isRevoked = value["is_revoked"]?.boolValue,
            let configurationNeeded = value["configuration_needed"]?.boolValue
        else { throw corrupt }
        let revoked = try revokedItems.map { item in
            guard let serial = item["serial"]?.bytesValue, let date = item["date"]?.uint64Value else { throw corrupt }
            return RevokedCertificate(serialNumber: serial, revocationDate: Date(millisecondsSince1970: date))
        }
        self.init(
            platformID: platformID, curve: curve, tcbLevel: UInt32(tcbLevel), latestTCBLevel: UInt32(latest),
            crlNumber: crlNumber, revoked: revoked, isRevoked: isRevoked)
        self.configurationNeeded = configurationNeeded
    }
}
