import CloisterCBOR
import CloisterTestSupport
import Foundation
import Testing

/// Every RFC 8949 Appendix A example (Vectors/rfc8949-appendix-a.json), decoded and re-encoded.
@Suite struct AppendixATests {
    /// Examples whose `diagnostic` this decoder deliberately renders differently, with why.
    static let diagnosticDeviations: [String: String] = [
        // The decoder joins the chunks of an indefinite-length string into one value.
        "5f42010243030405ff": "h'0102030405'"
    ]

    /// Examples marked `roundtrip: true` that are not in deterministic form, with the deterministic encoding.
    static let nonDeterministicRoundTrips: [String: String] = [
        // Indefinite-length strings: RFC 8949 §4.2.1 requires definite lengths.
        "5f42010243030405ff": "450102030405",
        "7f657374726561646d696e67ff": "6973747265616d696e67",
    ]

    /// `roundtrip: false` examples and the deterministic encoding of the value they decode to.
    static let deterministicForms: [String: String] = [
        "fa7f800000": "f97c00",
        "fa7fc00000": "f97e00",
        "faff800000": "f9fc00",
        "fb7ff0000000000000": "f97c00",
        "fb7ff8000000000000": "f97e00",
        "fbfff0000000000000": "f9fc00",
        "9fff": "80",
        "9f018202039f0405ffff": "8301820203820405",
        "9f01820203820405ff": "8301820203820405",
        "83018202039f0405ff": "8301820203820405",
        "83019f0203ff820405": "8301820203820405",
        "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff":
            "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
        "bf61610161629f0203ffff": "a26161016162820203",
        "826161bf61626163ff": "826161a161626163",
        // Keys sort bytewise by encoding: "Amt" (63416d74) before "Fun" (6346756e).
        "bf6346756ef563416d7421ff": "a263416d74216346756ef5",
    ]

    /// `f818` (simple(24)) comes from RFC 7049; RFC 8949 §3.3 makes 0xf8 followed by a byte below 0x20 not
    /// well-formed (and dropped the example), so the decoder must reject it.
    static let notWellFormedUnderRFC8949 = "f818"

    static func examples() throws -> [AppendixExample] {
        let directory = try #require(Bundle.module.url(forResource: "Vectors", withExtension: nil))
        let data = try Data(contentsOf: directory.appendingPathComponent("rfc8949-appendix-a.json"))
        return try JSONDecoder().decode([AppendixExample].self, from: data)
    }

    @Test func vectorFileIsComplete() throws {
        let examples = try Self.examples()
        #expect(examples.count == 82)
        let hexes = Set(examples.map(\.hex))
        for hex in Self.deterministicForms.keys { #expect(hexes.contains(hex), "\(hex) missing from the vectors") }
        #expect(examples.filter { !$0.roundtrip }.count == Self.deterministicForms.count)
    }

    @Test(arguments: try examples())
    func decodesAndReencodes(_ example: AppendixExample) throws {
        let wire = bytes(fromHex: example.hex)
        if example.hex == Self.notWellFormedUnderRFC8949 {
            #expect(throws: CBORError.self) { try CBORDecoder().decode(wire) }
            return
        }
        let value = try CBORDecoder().decode(wire)
        if let expected = example.decoded {
            #expect(matches(value, expected), "\(example.hex) decoded to \(value)")
        }
        if let diagnostic = example.diagnostic {
            #expect(value.description == (Self.diagnosticDeviations[example.hex] ?? diagnostic))
        }
        let deterministic =
            example.roundtrip
            ? Self.nonDeterministicRoundTrips[example.hex] ?? example.hex
            : try #require(Self.deterministicForms[example.hex], "no deterministic form listed for \(example.hex)")
        #expect(hexString(try value.encoded()) == deterministic)
        #expect(try CBORDecoder().decode(value.encoded()) == sortingMaps(value))
    }
}

/// One entry of the Appendix A vectors file.
struct AppendixExample: Decodable, Sendable, CustomTestStringConvertible {
    let hex: String
    let roundtrip: Bool
    let decoded: JSONValue?
    let diagnostic: String?

    var testDescription: String { hex }
}

/// A JSON value, with numbers kept both as `Double` and (when it fits) as an exact `Decimal`.
indirect enum JSONValue: Decodable, Sendable {
    case number(Double, exact: Decimal?)
    case string(String)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let flag = try? container.decode(Bool.self) {
            self = .bool(flag)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let number = try? container.decode(Double.self) {
            self = .number(number, exact: try? container.decode(Decimal.self))
        } else if let elements = try? container.decode([JSONValue].self) {
            self = .array(elements)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }
}

/// Whether a decoded CBOR item is the value the vectors file gives as JSON (bignums as integers).
func matches(_ value: CBORValue, _ expected: JSONValue) -> Bool {
    switch (value, expected) {
    case (.unsigned(let number), .number(_, let exact?)):
        return exact == Decimal(number)
    case (.negative(let number), .number(_, let exact?)):
        return exact == -1 - Decimal(number)
    case (.tagged(2, .bytes(let magnitude)), .number(_, let exact?)):
        return exact == bignum(magnitude)
    case (.tagged(3, .bytes(let magnitude)), .number(_, let exact?)):
        return exact == -1 - bignum(magnitude)
    case (.float(let number), .number(let expected, _)):
        return number.bitPattern == expected.bitPattern
    case (.text(let text), .string(let expected)):
        return Array(text.utf8) == Array(expected.utf8)
    case (.bool(let flag), .bool(let expected)):
        return flag == expected
    case (.null, .null):
        return true
    case (.array(let elements), .array(let expected)):
        return elements.count == expected.count && zip(elements, expected).allSatisfy { matches($0, $1) }
    case (.map(let entries), .object(let expected)):
        return entries.count == expected.count
            && entries.allSatisfy { entry in
                guard let key = entry.key.textValue, let expectedValue = expected[key] else { return false }
                return matches(entry.value, expectedValue)
            }
    default:
        return false
    }
}

private func bignum(_ magnitude: [UInt8]) -> Decimal {
    magnitude.reduce(Decimal(0)) { $0 * 256 + Decimal($1) }
}
