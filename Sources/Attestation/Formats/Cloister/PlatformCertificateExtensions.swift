public import CloisterCrypto

/// The X.509 extensions by which a Cloister platform certificate states which platform it is and at which TCB level
/// it runs (as Intel's PCK certificates carry FMSPC and TCB components).
///
/// The OIDs sit under `2.25.282207653402797124771215154106746015423` (a UUID-derived arc, ITU-T X.667), which needs
/// no registration: `.1` platform id (OCTET STRING, 16 bytes), `.2` TCB level (INTEGER, 0 to 2^32-1).
public enum PlatformCertificateExtensions {
    /// The arc all Cloister OIDs live under.
    public static let arc = "2.25.282207653402797124771215154106746015423"
    /// The platform id extension.
    public static let platformIDOID = arc + ".1"
    /// The TCB level extension.
    public static let tcbLevelOID = arc + ".2"
    /// The byte count of a platform id.
    public static let platformIDByteCount = 16

    /// The extension stating `platformID`.
    public static func platformID(_ platformID: [UInt8]) -> CertificateExtension {
        CertificateExtension(oid: platformIDOID, value: [0x04, UInt8(platformID.count)] + platformID)
    }

    /// The extension stating `level`.
    public static func tcbLevel(_ level: UInt32) -> CertificateExtension {
        var content = withUnsafeBytes(of: level.bigEndian, Array.init)
        while content.count > 1 && content[0] == 0 && content[1] & 0x80 == 0 { content.removeFirst() }
        if content[0] & 0x80 != 0 { content.insert(0, at: 0) }
        return CertificateExtension(oid: tcbLevelOID, value: [0x02, UInt8(content.count)] + content)
    }

    /// The platform id `certificate` states, or nil when it carries none or a malformed one.
    public static func platformID(of certificate: X509Certificate) -> [UInt8]? {
        guard let value = certificate.extension(oid: platformIDOID)?.value,
            value.count == 2 + platformIDByteCount, value[0] == 0x04, value[1] == UInt8(platformIDByteCount)
        else { return nil }
        return Array(value[2...])
    }

    /// The TCB level `certificate` states, or nil when it carries none or a malformed one.
    public static func tcbLevel(of certificate: X509Certificate) -> UInt32? {
        guard let value = certificate.extension(oid: tcbLevelOID)?.value, value.count >= 3, value[0] == 0x02,
            Int(value[1]) == value.count - 2, value[2] & 0x80 == 0
        else { return nil }
        let content = value[2...]
        // DER: minimal length, at most 4 value bytes after an optional leading zero.
        if content.count > 1 && content.first == 0 && content[content.startIndex + 1] & 0x80 == 0 { return nil }
        let significant = content.first == 0 && content.count > 1 ? content.dropFirst() : content
        guard significant.count <= 4 else { return nil }
        return significant.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
