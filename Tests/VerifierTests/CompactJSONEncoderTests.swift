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

    struct Scalars: Encodable {
        let int64: Int64
        let uint64: UInt64
        let uint32: UInt32
        let uint16: UInt16?
        let uint8: UInt8
        let whole: Double
        let strings: [String?]
    }

    @Test("every scalar type, in members, arrays and optionals, byte for byte")
    func scalars() throws {
        let value = Scalars(
            int64: .min, uint64: .max, uint32: 7, uint16: 65535, uint8: 255, whole: -3, strings: ["a", nil, ""])
        #expect(try CompactJSONEncoder(sortedKeys: true).encode(value) == foundation(value))
        #expect(try CompactJSONEncoder(sortedKeys: true).encode([value]) == foundation([value]))
    }

    @Test("keys sort by their text, not their escaped form: quotes, backslashes, control characters, prefixes")
    func escapedKeysSort() throws {
        let keys = ["a", "a!", "a\"", "a\\", "a\u{01}", "a\n", "a\u{1f}", "ab", "", " ", "é", "z\"y", "z#"]
        let value = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
        #expect(try CompactJSONEncoder(sortedKeys: true).encode(value) == foundation(value))
    }

    /// Text of `length` characters drawn from `alphabet`.
    private func randomText(
        _ alphabet: String, length: ClosedRange<Int>, using generator: inout some RandomNumberGenerator
    ) -> String {
        String((0..<Int.random(in: length, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
    }

    @Test("random dictionaries of random keys sort as Foundation sorts them")
    func randomKeys() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let keys = (0..<Int.random(in: 0...8, using: &generator)).map { _ in
                randomText("ab\"\\\n\u{02} é/", length: 0...4, using: &generator)
            }
            let value = Dictionary(keys.map { ($0, [$0]) }, uniquingKeysWith: { first, _ in first })
            #expect(try CompactJSONEncoder(sortedKeys: true).encode(value) == foundation(value))
        }
    }

    @Test("random strings of any length escape as Foundation escapes them (the eight-byte scan included)")
    func randomStrings() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let text = randomText(
                "abcdefgh\"\\\n\t\r\u{00}\u{01}\u{1f} \u{7f}é🔒/", length: 0...40, using: &generator)
            #expect(try CompactJSONEncoder().encode([text]) == foundation([text]), "\(Array(text.utf8))")
        }
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
