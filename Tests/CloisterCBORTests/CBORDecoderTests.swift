import CloisterCBOR
import CloisterTestSupport
import Testing

/// The error `decode` throws for `input`, or nil when it decodes.
private func decodingError(_ input: [UInt8], _ decoder: CBORDecoder = CBORDecoder()) -> CBORError? {
    do {
        _ = try decoder.decode(input)
        return nil
    } catch {
        return error
    }
}

private func decodingError(_ hex: String, _ decoder: CBORDecoder = CBORDecoder()) -> CBORError? {
    decodingError(bytes(fromHex: hex), decoder)
}

@Suite struct CBORDecoderTests {
    /// Valid items, several with nested indefinite-length parts, whose every proper prefix must be rejected.
    static let completeItems = [
        "bf61610161629f0203ffff",
        "9f018202039f0405ffff",
        "83019f0203ff820405",
        "5f42010243030405ff",
        "7f657374726561646d696e67ff",
        "826161bf61626163ff",
        "c249010000000000000000",
        "fb3ff199999999999a",
        "d818456449455446",
        "d28444a1013822a0430102035860" + String(repeating: "ab", count: 96),
        "a3016161026362636403bf6178f93e00ff",
        "9f9f9f5f4101ffffffff",
        "1bffffffffffffffff",
        "f8ff",
    ]

    @Test(arguments: completeItems)
    func everyProperPrefixIsTruncated(_ hex: String) throws {
        let item = bytes(fromHex: hex)
        _ = try CBORDecoder().decode(item)
        for length in 0..<item.count {
            let error = decodingError(Array(item[0..<length]))
            #expect(error?.code == .truncated, "prefix of \(length) bytes of \(hex): \(String(describing: error))")
        }
    }

    @Test func decodesIndefiniteLengthItems() throws {
        #expect(try CBORDecoder().decode(bytes(fromHex: "5f42010243030405ff")) == .bytes([1, 2, 3, 4, 5]))
        #expect(try CBORDecoder().decode(bytes(fromHex: "7f62c3bc6161ff")) == .text("üa"))
        #expect(try CBORDecoder().decode(bytes(fromHex: "5fff")) == .bytes([]))
        #expect(try CBORDecoder().decode(bytes(fromHex: "bf0102ff")) == [1: 2])
        #expect(try CBORDecoder().decode(bytes(fromHex: "9f9fffff")) == [[]])
    }

    @Test func readsTagsAndSimpleValuesLibcborRejects() throws {
        #expect(try CBORDecoder().decode(bytes(fromHex: "d280")) == .tagged(18, []))
        #expect(try CBORDecoder().decode(bytes(fromHex: "c600")) == .tagged(6, 0))
        #expect(try CBORDecoder().decode(bytes(fromHex: "d4f4")) == .tagged(20, false))
        #expect(try CBORDecoder().decode(bytes(fromHex: "e0")) == .simple(0))
        #expect(try CBORDecoder().decode(bytes(fromHex: "f3")) == .simple(19))
        #expect(try CBORDecoder().decode(bytes(fromHex: "f820")) == .simple(32))
        #expect(try CBORDecoder().decode(bytes(fromHex: "82f0f8ff")) == [.simple(16), .simple(255)])
    }

    @Test func keepsMapEntriesInWireOrder() throws {
        let value = try CBORDecoder().decode(bytes(fromHex: "a3026162016161036163"))
        #expect(value.mapValue?.map(\.key) == [2, 1, 3])
        #expect(value[1] == "a")
        #expect(value[4] == nil)
    }

    @Test func decodePrefixReportsTheRest() throws {
        let (value, byteCount) = try CBORDecoder().decodePrefix(bytes(fromHex: "8201020304"))
        #expect(value == [1, 2])
        #expect(byteCount == 3)
    }

    @Test func rejectsTrailingBytes() {
        let error = decodingError("0000")
        #expect(error?.code == .trailingBytes)
        #expect(error?.offset == 1)
        #expect(decodingError("8101ff")?.code == .trailingBytes)
    }

    @Test func rejectsEmptyInput() {
        #expect(decodingError([])?.code == .truncated)
    }

    @Test(arguments: [10_000, 100_000])
    func deepNestingHitsTheDepthLimitWithoutRecursion(_ depth: Int) {
        for opener: UInt8 in [0x81, 0x9f, 0xc6, 0xd8, 0xa1] {
            var input = [UInt8](repeating: opener, count: depth)
            if opener == 0xd8 { input = Array([[UInt8]](repeating: [0xd8, 0x40], count: depth).joined()) }
            if opener == 0xa1 { input = Array([[UInt8]](repeating: [0xa1, 0x00], count: depth).joined()) }
            input.append(0x00)
            let error = decodingError(input)
            #expect(
                error?.code == .depthLimitExceeded,
                "opener 0x\(String(opener, radix: 16)): \(String(describing: error))")
        }
    }

    @Test func depthLimitIsExact() throws {
        let decoder = CBORDecoder(limits: CBORLimits(maximumDepth: 3))
        #expect(try decoder.decode(bytes(fromHex: "81818100")) == [[[0]]])
        #expect(decodingError("8181818100", decoder)?.code == .depthLimitExceeded)
        #expect(decodingError("c1c1c1c100", decoder)?.code == .depthLimitExceeded)
        #expect(try CBORDecoder().decode([UInt8](repeating: 0x81, count: 64) + [0]).arrayValue != nil)
        #expect(decodingError([UInt8](repeating: 0x81, count: 65) + [0])?.code == .depthLimitExceeded)
    }

    @Test(arguments: [
        "5bffffffffffffffff010203",
        "5b7fffffffffffffff010203",
        "5affffffff010203",
        "7bffffffffffffffff616161",
        "9bffffffffffffffff010203",
        "9b7fffffffffffffff010203",
        "bbffffffffffffffff010203",
        "bb4000000000000000010203",
        "9a0000000501020304",
    ])
    func lengthsClaimingMoreThanTheInputAreTruncatedBeforeAllocating(_ hex: String) {
        let error = decodingError(hex)
        #expect(error?.code == .truncated, "\(String(describing: error))")
        #expect(error?.reason.contains("declares") == true, "\(String(describing: error))")
        #expect(error?.offset == 0)
    }

    @Test func reportsTheDeclaredLengthOfAnOversizedByteString() {
        let error = decodingError("5bffffffffffffffff010203")
        #expect(error?.reason == "byte string declares 18446744073709551615 bytes but only 3 remain")
    }

    @Test func enforcesTheItemLimit() throws {
        let decoder = CBORDecoder(limits: CBORLimits(maximumItemCount: 4))
        #expect(try decoder.decode(bytes(fromHex: "83010203")) == [1, 2, 3])
        #expect(decodingError("8401020304", decoder)?.code == .itemLimitExceeded)
        #expect(decodingError("9f01020304ff", decoder)?.code == .itemLimitExceeded)
        #expect(decodingError("5f41014101410141014101ff", decoder)?.code == .itemLimitExceeded)
        let flood = [0x9a, 0x00, 0x10, 0x00, 0x00] + [UInt8](repeating: 0, count: 0x10_0000)
        #expect(
            decodingError(flood, CBORDecoder(limits: CBORLimits(maximumItemCount: 1000)))?.code == .itemLimitExceeded)
    }

    @Test func enforcesTheSizeLimit() throws {
        let input = [0x58, 0x62] + [UInt8](repeating: 7, count: 98)
        #expect(try CBORDecoder(limits: CBORLimits(maximumInputSize: 100)).decode(input).bytesValue?.count == 98)
        #expect(decodingError(input, CBORDecoder(limits: CBORLimits(maximumInputSize: 99)))?.code == .sizeLimitExceeded)
    }

    @Test(arguments: [
        "61ff",  // 0xff never appears in UTF-8
        "62c328",  // bad continuation byte
        "62c080",  // overlong encoding of U+0000
        "63eda080",  // UTF-16 surrogate U+D800
        "64f4908080",  // beyond U+10FFFF
        "61c3",  // truncated sequence
        "7f61c361bcff",  // a character split across chunks
        "a161ff00",  // invalid key text
    ])
    func rejectsInvalidUTF8(_ hex: String) {
        #expect(decodingError(hex)?.code == .invalidUTF8)
    }

    @Test func rejectsReservedAdditionalInformation() {
        for major: UInt8 in 0...7 {
            for info: UInt8 in 28...30 {
                let error = decodingError([major << 5 | info])
                #expect(error?.code == .malformed, "major \(major) info \(info): \(String(describing: error))")
                #expect(error?.reason.contains("reserved additional information \(info)") == true)
            }
        }
        for initial: UInt8 in [0x1f, 0x3f, 0xdf] {
            #expect(decodingError([initial])?.code == .malformed)
        }
    }

    @Test(arguments: ["ff", "83ff0000", "8201ff", "a1ff00", "a101ff", "bf01ff", "c1ff", "829f01ffff"])
    func rejectsMisplacedBreaks(_ hex: String) {
        #expect(decodingError(hex)?.code == .malformed)
    }

    @Test(arguments: [
        "5f6161ff",  // text chunk inside a byte string
        "7f4161ff",  // byte chunk inside a text string
        "5f5f4101ffff",  // nested indefinite-length string
        "5f01ff",  // integer inside a byte string
        "5f80ff",  // array inside a byte string
        "f800",  // simple value below 32 in the two-byte form
        "f818",
        "f81f",
    ])
    func rejectsOtherMalformedItems(_ hex: String) {
        #expect(decodingError(hex)?.code == .malformed)
    }

    @Test func rejectsDuplicateMapKeysUnlessAllowed() throws {
        let duplicate = "a201000101"
        #expect(decodingError(duplicate)?.code == .duplicateMapKey)
        #expect(decodingError("bf01000101ff")?.code == .duplicateMapKey)
        #expect(decodingError("a2f97e0001fa7fc0000002")?.code == .duplicateMapKey)  // NaN equals NaN
        #expect(decodingError("81a2616101616102")?.code == .duplicateMapKey)
        // Maps are unordered in the data model: {1: 0, 0: 0} and {0: 0, 1: 0} are one key, also inside an array
        // (found by fuzzing: the decoder accepted the map, which the encoder then refused).
        #expect(decodingError("a2a201000000f6a200000100f6")?.code == .duplicateMapKey)
        #expect(decodingError("a281a201000000f681a200000100f6")?.code == .duplicateMapKey)
        #expect(try CBORDecoder().decode(bytes(fromHex: "a2a201000000f6a200000101f6")).mapValue?.count == 2)
        let permissive = CBORDecoder(allowsDuplicateMapKeys: true)
        let value = try permissive.decode(bytes(fromHex: duplicate))
        #expect(value.mapValue == [CBORMapEntry(1, 0), CBORMapEntry(1, 1)])
        #expect(value[1] == 0)
        #expect(try CBORDecoder().decode(bytes(fromHex: "a2f9000001f9800002")).mapValue?.count == 2)  // 0.0, -0.0
    }

    @Test("small maps of random keys of every kind: refused exactly when two keys are equal")
    func duplicateKeysOfEveryKind() throws {
        let pool: [CBORValue] = [
            .unsigned(0), .unsigned(1), .unsigned(.max), .negative(0), .negative(1), .text(""), .text("a"),
            .text("b"), .text("é"), .text("e\u{301}"), .bytes([]), .bytes([1]), .bytes([1, 2]), .float(1.5),
            .float(.nan), .bool(true), .null, .array([.unsigned(1)]), .tagged(1, .unsigned(0)),
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<400 {
            let keys = (0..<Int.random(in: 2...16, using: &generator)).map { _ in
                pool.randomElement(using: &generator)!
            }
            var input: [UInt8] = [0xa0 | UInt8(keys.count)]
            for key in keys { input += try key.encoded() + [0xf6] }
            let hasDuplicate = keys.indices.contains { index in keys[..<index].contains(keys[index]) }
            if hasDuplicate {
                #expect(decodingError(input)?.code == .duplicateMapKey, "\(keys)")
            } else {
                #expect(try CBORDecoder().decode(input).mapValue?.count == keys.count, "\(keys)")
            }
        }
    }

    @Test func rejectsDuplicateKeysInLargeMaps() throws {
        // 40 entries, so the decoder checks with a hash set rather than pairwise.
        var input: [UInt8] = [0xb8, 40]
        for key in 0..<39 { input += (key < 24 ? [UInt8(key)] : [0x18, UInt8(key)]) + [0xf6] }
        #expect(try CBORDecoder().decode(input + [0x18, 39, 0xf6]).mapValue?.count == 40)
        #expect(decodingError(input + [0x11, 0xf6])?.code == .duplicateMapKey)
    }

    @Test func floatsKeepTheirValues() throws {
        #expect(try CBORDecoder().decode(bytes(fromHex: "f93e00")) == 1.5)
        #expect(try CBORDecoder().decode(bytes(fromHex: "fa47c35000")) == 100_000.0)
        #expect(try CBORDecoder().decode(bytes(fromHex: "f90001")).doubleValue == 0x1p-24)
        #expect(try CBORDecoder().decode(bytes(fromHex: "f98000")).doubleValue?.sign == .minus)
        #expect(try CBORDecoder().decode(bytes(fromHex: "fb7ff8000000000001")).doubleValue?.isNaN == true)
    }

    @Test func errorsDescribeThemselves() {
        let error = decodingError("9f0102")
        #expect(error?.description == "truncated at byte 3: input ends inside the array that starts at byte 0")
        let declared = decodingError("8401")
        #expect(declared?.description == "truncated at byte 0: array declares 4 items but only 1 bytes remain")
    }
}
