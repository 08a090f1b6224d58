import Attestation
import Testing

@Suite("Evidence media types")
struct EvidenceFormatTests {
    @Test("read in any ASCII case, with parameters and blanks ignored")
    func mediaTypes() {
        #expect(EvidenceFormat(mediaType: "application/vnd.cloister.quote+cose") == .cloister)
        #expect(EvidenceFormat(mediaType: "Application/VND.Cloister.Quote+COSE; charset=binary") == .cloister)
        #expect(EvidenceFormat(mediaType: " application/vnd.aws.nitro-enclaves.attestation+cose\t;x=y") == .nitro)
        for format in EvidenceFormat.allCases {
            #expect(EvidenceFormat(mediaType: format.mediaType.uppercased()) == format)
        }
    }

    @Test("anything else is no format: other types, prefixes, non-ASCII look-alikes, empty")
    func refused() {
        for type in [
            "application/cbor", "application/vnd.cloister.quote", "application/vnd.cloister.quote+cose+x", "",
            ";application/vnd.cloister.quote+cose",
            "application/vnd.cloister.quote+co\u{017F}e",  // LATIN SMALL LETTER LONG S uppercases to "S"
        ] {
            #expect(EvidenceFormat(mediaType: type) == nil, "\(type)")
        }
    }
}
