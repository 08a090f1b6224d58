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

    /// The format whose media type is `mediaType` (parameters after ';' ignored), or nil.
    public init?(mediaType: String) {
        let bare = String(mediaType.split(separator: ";").first ?? "").filter { $0 != " " && $0 != "\t" }
        guard let format = Self.allCases.first(where: { $0.mediaType == bare.lowercased() }) else { return nil }
        self = format
    }

    /// The format of a decoded document.
    public static func detect(_ document: AttestationDocument) -> EvidenceFormat {
        document.cloister == nil ? .nitro : .cloister
    }
}
