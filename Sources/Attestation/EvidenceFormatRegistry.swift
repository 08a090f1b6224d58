/// The evidence formats Cloister reads, in one list that `cloister verify --format`, the verifier service's media
/// types (a request's Content-Type, newSession's `accept`), auto detection and the OpenAPI document all read.
///
/// Adding a format is one folder under `Formats/` (its `EvidenceFormat` value, its `FormatVerifier`, its claims and
/// checks) and one line in `standard`. Evidence a format recognises before it has a verifier is listed in
/// `awaitingVerifiers`, so that it is refused as not supported yet rather than failing to decode as something else.
public struct EvidenceFormatRegistry: Sendable {
    /// The formats verified, in the order auto detection tries them.
    public let verifiers: [any FormatVerifier]
    /// Evidence recognised, and refused as not supported yet.
    public let awaitingVerifiers: [any EvidenceRecogniser]

    public init(verifiers: [any FormatVerifier], awaitingVerifiers: [any EvidenceRecogniser] = []) {
        self.verifiers = verifiers
        self.awaitingVerifiers = awaitingVerifiers
    }

    /// The registry every command, route and document of Cloister reads.
    public static let standard = EvidenceFormatRegistry(
        verifiers: [
            CloisterQuoteVerifier(),
            NitroDocumentVerifier(),
            IntelDCAPQuoteVerifier(tee: .sgx),
            IntelDCAPQuoteVerifier(tee: .tdx),
            SEVSNPReportVerifier(),
        ])

    /// The formats verified, in order.
    public var formats: [EvidenceFormat] { verifiers.map(\.format) }

    /// Every format's media type, in order.
    public var mediaTypes: [String] { verifiers.map(\.format.mediaType) }

    /// The format named `name` ("cloister"), or nil.
    public func format(named name: String) -> EvidenceFormat? {
        verifiers.first { $0.format.rawValue == name }?.format
    }

    /// The format whose media type is `mediaType` (parameters after ';' and blanks ignored, ASCII letters in any
    /// case, as media types are ASCII and case-insensitive), or nil.
    public func format(mediaType: String) -> EvidenceFormat? {
        let bare = mediaType.utf8.prefix { $0 != UInt8(ascii: ";") }
            .filter { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }
            .map { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) ? $0 | 0x20 : $0 }
        return verifiers.first { $0.format.mediaType.utf8.elementsEqual(bare) }?.format
    }

    /// The verifier of `format`, or nil when this registry has none.
    public func verifier(for format: EvidenceFormat) -> (any FormatVerifier)? {
        verifiers.first { $0.format == format }
    }
}
