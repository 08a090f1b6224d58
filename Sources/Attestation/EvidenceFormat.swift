/// An evidence format by name: the value `cloister verify --format` takes, results and the audit log record (the
/// EAR's submodule), and the HTTP media type that names it. Each format declares its value in its folder under
/// `Formats/`; `EvidenceFormatRegistry.standard` lists the formats Cloister verifies.
public struct EvidenceFormat: Sendable, Hashable, CaseIterable, Encodable, CustomStringConvertible {
    /// The stable name ("cloister", "nitro").
    public let rawValue: String
    /// What people call the evidence ("AWS Nitro Enclaves attestation document").
    public let name: String
    /// The HTTP media type of the format.
    public let mediaType: String
    /// Whether the format's evidence states a TCB status, so that a policy's acceptable statuses apply to it.
    public let statesTCBStatus: Bool
    /// The format's own claims a policy may name in its `claims` table (hex values, as `FormatClaims.referenceValues`
    /// states them).
    public let referenceClaims: [String]

    public init(
        _ rawValue: String, name: String, mediaType: String, statesTCBStatus: Bool, referenceClaims: [String] = []
    ) {
        self.rawValue = rawValue
        self.name = name
        self.mediaType = mediaType
        self.statesTCBStatus = statesTCBStatus
        self.referenceClaims = referenceClaims
    }

    /// The formats of the standard registry, in its order.
    public static var allCases: [EvidenceFormat] { EvidenceFormatRegistry.standard.formats }

    /// The standard registry's format whose media type is `mediaType` (parameters after ';' and blanks ignored,
    /// ASCII letters in any case, as media types are ASCII and case-insensitive), or nil.
    public init?(mediaType: String) {
        guard let format = EvidenceFormatRegistry.standard.format(mediaType: mediaType) else { return nil }
        self = format
    }

    public var description: String { rawValue }

    public static func == (lhs: EvidenceFormat, rhs: EvidenceFormat) -> Bool {
        lhs.rawValue == rhs.rawValue
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(rawValue)
    }

    /// Encoded as its name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
