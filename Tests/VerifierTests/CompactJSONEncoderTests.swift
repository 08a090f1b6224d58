import Attestation
import Foundation
import Testing
import Verifier

@Suite("CompactJSONEncoder writes what Foundation's JSONEncoder writes")
struct CompactJSONEncoderTests {
    struct Inner: Encodable {
        let name: String
        let values: [Int]
        let flag: Bool?
    }

    struct Outer: Encodable {
        let zeta: String
        let alpha: Inner
        let map: [String: Inner]
        let list: [Inner]
        let missing: String?
        let number: Double
        let when: Date
        let empty: [String: String]
    }

    /// Foundation's encoder configured as the service's was: sorted keys, slashes unescaped, ISO 8601 dates.
    private func foundation(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(value))
    }

    @Test("nested objects, dictionaries, arrays, nil, escapes, numbers and dates: byte for byte, keys sorted")
    func matchesFoundation() throws {
        let tricky = "quote \" backslash \\ slash / tab \t newline \n bell \u{07} é 🔒"
        let inner = Inner(name: tricky, values: [0, -1, Int.max], flag: nil)
        let value = Outer(
            zeta: "z", alpha: Inner(name: "a", values: [], flag: true),
            map: ["b": inner, "a": Inner(name: "x", values: [1], flag: false), "ab": inner], list: [inner, inner],
            missing: nil, number: 2.5, when: Date(timeIntervalSince1970: 1_700_000_000), empty: [:])
        #expect(try CompactJSONEncoder(sortedKeys: true).encode(value) == foundation(value))
    }

    @Test("without sorting, members keep their encoding order and parse to the same value")
    func unsortedParses() throws {
        let value = Inner(name: "n", values: [3, 2], flag: true)
        let bytes = try CompactJSONEncoder().encode(value)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"name":"n","values":[3,2],"flag":true}"#)
    }

    @Test("a non-finite number is refused")
    func nonFinite() {
        #expect(throws: EncodingError.self) { try CompactJSONEncoder().encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try CompactJSONEncoder().encode(["x": Double.infinity]) }
    }

    @Test("an attestation result encodes as Foundation encodes it")
    func attestationResult() throws {
        let evidence = try CloisterEvidence()
        let result = try appraiser(evidence.trust()).appraise(
            evidence.quote(), policy: evidence.policy, expectedNonce: [1, 2], at: Date())
        #expect(try CompactJSONEncoder(sortedKeys: true).encode(result) == foundation(result))
    }
}
