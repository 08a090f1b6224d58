import CloisterCBOR
import CloisterTestSupport
import Testing

private func hex(_ value: CBORValue) throws -> String {
    hexString(try value.encoded())
}

/// The error `encoded()` throws for `value`, or nil when it encodes.
private func encodingError(_ value: CBORValue) -> CBORError? {
    do {
        _ = try value.encoded()
        return nil
    } catch {
        return error
    }
}

@Suite struct CBOREncoderTests {
    @Test func integersUseTheShortestHead() throws {
        let cases: [(CBORValue, String)] = [
            (0, "00"), (23, "17"), (24, "1818"), (255, "18ff"), (256, "190100"), (65535, "19ffff"),
            (65536, "1a00010000"), (.unsigned(0xffff_ffff), "1affffffff"),
            (.unsigned(0x1_0000_0000), "1b0000000100000000"),
            (.unsigned(.max), "1bffffffffffffffff"), (-1, "20"), (-24, "37"), (-25, "3818"), (-256, "38ff"),
            (-257, "390100"), (.negative(.max), "3bffffffffffffffff"), (CBORValue(Int64.min), "3b7fffffffffffffff"),
        ]
        for (value, expected) in cases { #expect(try hex(value) == expected, "\(value)") }
    }

    @Test func lengthsUseTheShortestHead() throws {
        #expect(try hex(.bytes([UInt8](repeating: 1, count: 23))).hasPrefix("5701"))
        #expect(try hex(.bytes([UInt8](repeating: 1, count: 24))).hasPrefix("581801"))
        #expect(try hex(.text(String(repeating: "a", count: 256))).hasPrefix("79010061"))
        #expect(try hex(.array([CBORValue](repeating: 0, count: 24))).hasPrefix("981800"))
        let entries = (0..<24).map { CBORMapEntry(.unsigned(UInt64($0)), .null) }
        #expect(try hex(.map(entries)).hasPrefix("b81800f6"))
    }

    @Test func floatsUseTheShortestExactWidth() throws {
        let cases: [(Double, String)] = [
            (0.0, "f90000"), (-0.0, "f98000"), (1.0, "f93c00"), (1.5, "f93e00"), (65504.0, "f97bff"),
            (0x1p-24, "f90001"), (0x1p-14, "f90400"), (0x1.ff8p-15, "f903ff"), (1 + 0x1p-10, "f93c01"),
            (1 + 0x1p-11, "fa3f801000"), (65505.0, "fa477fe100"), (100_000.0, "fa47c35000"), (0x1p-25, "fa33000000"),
            (0x1p-149, "fa00000001"), (Double(Float.greatestFiniteMagnitude), "fa7f7fffff"),
            (1.1, "fb3ff199999999999a"),
            (0x1p-150, "fb3690000000000000"), (1e300, "fb7e37e43c8800759c"), (.infinity, "f97c00"),
            (-.infinity, "f9fc00"), (.nan, "f97e00"), (-.nan, "f97e00"),
            (Double(bitPattern: 0x7ff0_0000_0000_0001), "f97e00"),
        ]
        for (number, expected) in cases { #expect(try hex(.float(number)) == expected, "\(number)") }
    }

    @Test func mapKeysSortBytewiseByEncoding() throws {
        // The example of RFC 8949 §4.2.1, given in reverse.
        let sorted: [CBORValue] = [10, 100, -1, "z", "aa", [100], [-1], false]
        let value = CBORValue.map(sorted.reversed().map { CBORMapEntry($0, .null) })
        #expect(
            try hex(value) == "a8" + "0af6" + "1864f6" + "20f6" + "617af6" + "626161f6" + "811864f6" + "8120f6" + "f4f6"
        )
        let nested: CBORValue = ["b": ["y": 1, "x": 2], "a": 0]
        #expect(try hex(nested) == "a26161006162a2617802617901")
    }

    @Test func rejectsDuplicateKeys() {
        let duplicates: [CBORValue] = [
            [1: 0, 1: 1],
            ["a": 0, "b": 1, "a": 2],
            [.float(.nan): 0, .float(-.nan): 1],
            [[1, 2]: 0, [1, 2]: 0],
            [[1: [1: 0, 1: 0]]],
        ]
        for value in duplicates {
            #expect(encodingError(value)?.code == .duplicateMapKey, "\(value)")
        }
        let distinct: CBORValue = [.float(0.0): 0, .float(-0.0): 1, 0: 2, .bytes([]): 3, "": 4]
        #expect(throws: Never.self) { try distinct.encoded() }
    }

    @Test func simpleValuesAndTags() throws {
        #expect(try hex(.simple(16)) == "f0")
        #expect(try hex(.simple(255)) == "f8ff")
        #expect(try hex(.simple(32)) == "f820")
        #expect(try hex(.tagged(18, [])) == "d280")
        #expect(try hex(.tagged(0xffff_ffff_ffff, .null)) == "db0000fffffffffffff6")
        #expect(try hex(.bool(true)) == "f5")
        #expect(try hex(.undefined) == "f7")
        for reserved: UInt8 in 20...31 {
            #expect(encodingError(.simple(reserved))?.code == .unencodable)
        }
    }

    @Test func randomValuesRoundTrip() throws {
        var generator = SeededGenerator(seed: 0x00c1_0157_e4cb)
        for iteration in 0..<2_000 {
            let value = randomValue(depth: 0, using: &generator)
            let encoded = try value.encoded()
            let decoded = try CBORDecoder().decode(encoded)
            #expect(decoded == sortingMaps(value), "iteration \(iteration): \(value)")
            #expect(try decoded.encoded() == encoded, "iteration \(iteration): not a fixed point")
        }
    }
}

/// SplitMix64: small, fast and reproducible from its seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        return mixed ^ (mixed >> 31)
    }
}

/// A random item of bounded depth and breadth, with unique map keys.
func randomValue(depth: Int, using generator: inout SeededGenerator) -> CBORValue {
    let kinds = depth >= 4 ? 10 : 13
    switch Int.random(in: 0..<kinds, using: &generator) {
    case 0: return .unsigned(randomArgument(using: &generator))
    case 1: return .negative(randomArgument(using: &generator))
    case 2:
        return .bytes(
            (0..<Int.random(in: 0..<40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) })
    case 3:
        let scalars = (0..<Int.random(in: 0..<12, using: &generator)).compactMap { _ in
            Unicode.Scalar(
                [0x7f, 0x7ff, 0xffff, 0x10ffff][Int.random(in: 0..<4, using: &generator)]
                    & UInt32.random(in: 0...0x10ffff, using: &generator))
        }
        return .text(String(String.UnicodeScalarView(scalars)))
    case 4: return .float(randomFloat(using: &generator))
    case 5: return .bool(Bool.random(using: &generator))
    case 6: return [.null, .undefined][Int.random(in: 0..<2, using: &generator)]
    case 7:
        let number = UInt8.random(in: 0...235, using: &generator)
        return .simple(number < 20 ? number : number + 12)
    case 8, 9: return .unsigned(UInt64.random(in: 0..<30, using: &generator))
    case 10:
        return .array(
            (0..<Int.random(in: 0..<6, using: &generator)).map { _ in randomValue(depth: depth + 1, using: &generator) }
        )
    case 11:
        var entries: [CBORMapEntry] = []
        var keys: Set<[UInt8]> = []
        for _ in 0..<Int.random(in: 0..<6, using: &generator) {
            let key = randomValue(depth: depth + 1, using: &generator)
            guard let encodedKey = try? key.encoded(), keys.insert(encodedKey).inserted else { continue }
            entries.append(CBORMapEntry(key, randomValue(depth: depth + 1, using: &generator)))
        }
        return .map(entries)
    default:
        return .tagged(randomArgument(using: &generator), randomValue(depth: depth + 1, using: &generator))
    }
}

/// An integer argument that lands in each head width with similar probability.
private func randomArgument(using generator: inout SeededGenerator) -> UInt64 {
    let bits = [5, 8, 16, 32, 64][Int.random(in: 0..<5, using: &generator)]
    return UInt64.random(in: 0...UInt64.max, using: &generator) >> (64 - bits)
}

/// A double drawn to exercise every float width: raw bit patterns, halves, singles, specials.
private func randomFloat(using generator: inout SeededGenerator) -> Double {
    switch Int.random(in: 0..<4, using: &generator) {
    case 0: return Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &generator))
    case 1: return Double(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator)))
    case 2:
        // A value with at most 11 significant bits in the half-precision exponent range (normal or subnormal).
        let significand = Double(Int.random(in: -2047...2047, using: &generator))
        return significand * Double(sign: .plus, exponent: Int.random(in: -34...5, using: &generator), significand: 1)
    default: return [0.0, -0.0, .infinity, -.infinity, .nan, 65504, 0x1p-24][Int.random(in: 0..<7, using: &generator)]
    }
}

/// `value` with every map's entries in deterministic (encoded-key) order, as the decoder returns them.
func sortingMaps(_ value: CBORValue) -> CBORValue {
    switch value {
    case .array(let elements): return .array(elements.map(sortingMaps))
    case .tagged(let tag, let content): return .tagged(tag, sortingMaps(content))
    case .map(let entries):
        let sorted = entries.map { CBORMapEntry(sortingMaps($0.key), sortingMaps($0.value)) }
            .sorted { (try! $0.key.encoded()).lexicographicallyPrecedes(try! $1.key.encoded()) }
        return .map(sorted)
    default: return value
    }
}
