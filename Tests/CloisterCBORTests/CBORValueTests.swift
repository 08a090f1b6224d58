import CloisterCBOR
import Testing

@Suite struct CBORValueTests {
    @Test func accessorsReturnOnlyTheirOwnType() {
        let document: CBORValue = [
            "module_id": "i-0", 1: -7, "pcrs": [0: .bytes([0xaa])], "ok": true, "none": .null, "t": .tagged(18, []),
        ]
        #expect(document["module_id"]?.textValue == "i-0")
        #expect(document[1]?.int64Value == -7)
        #expect(document[1]?.uint64Value == nil)
        #expect(document["pcrs"]?[0]?.bytesValue == [0xaa])
        #expect(document["ok"]?.boolValue == true)
        #expect(document["none"]?.isNull == true)
        #expect(document["t"]?.taggedValue?.tag == 18)
        #expect(document["t"]?.taggedValue?.content.arrayValue == [])
        #expect(document["missing"] == nil)
        #expect(document.mapValue?.count == 6)
        #expect(document.textValue == nil)
        #expect(CBORValue.text("x")[0] == nil)
        #expect(CBORValue(Int64.min).int64Value == .min)
        #expect(CBORValue.negative(UInt64(Int64.max) + 1).int64Value == nil)
        #expect(CBORValue.unsigned(UInt64(Int64.max) + 1).int64Value == nil)
        #expect(CBORValue.float(1.5).doubleValue == 1.5)
    }

    @Test func equalityFollowsTheDataModel() {
        #expect(CBORValue.float(.nan) == .float(-.nan))
        #expect(CBORValue.float(0.0) != .float(-0.0))
        #expect(CBORValue.float(1.0) != .unsigned(1))
        #expect(CBORValue.text("\u{e9}") != .text("e\u{301}"))  // canonically equivalent Swift strings, other bytes
        #expect(Set<CBORValue>([.float(.nan), .float(-.nan), .text("\u{e9}"), .text("e\u{301}")]).count == 3)
        #expect(CBORValue.map([CBORMapEntry(1, 2), CBORMapEntry(3, 4)]) != [3: 4, 1: 2])
    }

    @Test func describesItselfInDiagnosticNotation() {
        let value: CBORValue = [
            "a\"\n": [.bytes([0, 0xff]), -1, .negative(.max), 1.5, .float(-.infinity), .undefined, .simple(16)],
            .tagged(1, 0): .null,
        ]
        let expected =
            #"{"a\"\n": [h'00ff', -1, -18446744073709551616, 1.5, -Infinity, undefined, simple(16)], 1(0): null}"#
        #expect(value.description == expected)
    }
}
