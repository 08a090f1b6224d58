public import FoundationEssentials

/// What a new certificate says about its subject: name, validity, constraints, usages and extra extensions.
public struct CertificateProfile: Sendable {
    public var subject: DistinguishedName
    public var notValidBefore: Date
    public var notValidAfter: Date
    /// Serial number (big-endian, 1 to 20 bytes, not zero); 16 random bytes, positive, when nil.
    public var serialNumber: [UInt8]?
    /// Basic constraints (always written, critical): CA:TRUE or an end-entity certificate.
    public var isCertificateAuthority: Bool
    /// For a CA, how many CA certificates may follow it; nil for no limit.
    public var pathLengthConstraint: Int?
    /// Key usages (written critical); must not be empty.
    public var keyUsage: KeyUsage
    /// Extended key usages as dotted OIDs; none written when empty.
    public var extendedKeyUsage: [String]
    /// Extra extensions by OID with raw DER values (platform id, TCB level, …).
    public var customExtensions: [CertificateExtension]
    /// The URIs of the CRL distribution points (one full name each, not critical); none written when empty.
    public var crlDistributionPoints: [String]

    public init(
        subject: DistinguishedName,
        notValidBefore: Date,
        notValidAfter: Date,
        serialNumber: [UInt8]? = nil,
        isCertificateAuthority: Bool,
        pathLengthConstraint: Int? = nil,
        keyUsage: KeyUsage,
        extendedKeyUsage: [String] = [],
        customExtensions: [CertificateExtension] = [],
        crlDistributionPoints: [String] = []
    ) {
        self.subject = subject
        self.notValidBefore = notValidBefore
        self.notValidAfter = notValidAfter
        self.serialNumber = serialNumber
        self.isCertificateAuthority = isCertificateAuthority
        self.pathLengthConstraint = pathLengthConstraint
        self.keyUsage = keyUsage
        self.extendedKeyUsage = extendedKeyUsage
        self.customExtensions = customExtensions
        self.crlDistributionPoints = crlDistributionPoints
    }

    /// OIDs of the extensions every Cloister certificate carries (basic constraints, key usage, key identifiers).
    static let standardExtensionOIDs: Set<String> = [
        "2.5.29.19", "2.5.29.15", "2.5.29.14", "2.5.29.35", "2.5.29.37", "2.5.29.31",
    ]

    /// Throws for a profile no well-formed certificate can carry.
    func validate() throws {
        guard !subject.attributes.isEmpty else {
            throw CryptoError(.invalidParameter, "certificate subject must not be empty")
        }
        guard notValidBefore < notValidAfter else {
            throw CryptoError(
                .invalidParameter,
                "certificate \(subject) validity ends (\(notValidAfter.rfc3339)) before it starts "
                    + "(\(notValidBefore.rfc3339))")
        }
        if let serialNumber {
            guard (1...20).contains(serialNumber.count), serialNumber.contains(where: { $0 != 0 }) else {
                throw CryptoError(
                    .invalidParameter, "serial number must be 1 to 20 bytes and not zero (RFC 5280 §4.1.2.2)")
            }
        }
        if let pathLengthConstraint {
            guard isCertificateAuthority, pathLengthConstraint >= 0 else {
                throw CryptoError(
                    .invalidParameter, "a path length constraint needs a CA profile and a non-negative length")
            }
        }
        guard !keyUsage.isEmpty else {
            throw CryptoError(.invalidParameter, "certificate \(subject) must have at least one key usage")
        }
        for uri in crlDistributionPoints
        where !(uri.hasPrefix("http://") || uri.hasPrefix("https://"))
            || uri.contains(where: { $0 == "," || $0.isWhitespace })
        {
            throw CryptoError(
                .invalidParameter, "CRL distribution point \(uri) is not an http(s) URI without commas or spaces")
        }
        var seen: Set<String> = []
        for custom in customExtensions {
            guard !Self.standardExtensionOIDs.contains(custom.oid), seen.insert(custom.oid).inserted else {
                throw CryptoError(
                    .invalidParameter, "extension \(custom.oid) would appear twice in certificate \(subject)")
            }
            guard ASN1Conversions.isSingleValue(custom.value) else {
                throw CryptoError(
                    .invalidParameter, "value of extension \(custom.oid) is not exactly one DER-encoded value")
            }
        }
    }
}
