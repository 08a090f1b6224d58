/// The evidence formats the appraisal reads. Both are COSE_Sign1 attestation documents; a Cloister quote carries the
/// `cloister` claims map, an AWS Nitro document does not.
public enum EvidenceFormat: String, Sendable, Hashable, CaseIterable, Codable {
    case cloister
    case nitro

    /// The HTTP media type of the format.
    public var mediaType: String {
        switch self {
        case .cloister: "application/vnd.cloister.quote+cose"
        case .nitro: "application/vnd.aws.nitro-enclaves.attestation+cose"
        }
    }

    /// The format whose media type is `mediaType` (parameters after ';' and blanks ignored, ASCII letters in any
    /// case, as media types are ASCII and case-insensitive), or nil.
    public init?(mediaType: String) {
        let bare = mediaType.utf8.prefix { $0 != UInt8(ascii: ";") }
            .filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
            .map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 | 0x20 : $0 }
        guard let format = Self.allCases.first(where: { $0.mediaType.utf8.elementsEqual(bare) }) else { return nil }
        self = format
    }

    /// The format of a decoded document.
    public static func detect(_ document: AttestationDocument) -> EvidenceFormat {
        document.cloister == nil ? .nitro : .cloister
    }
}
