import CloisterCBOR
import Testing

@Suite("CBORCursor: canonical items read in place")
struct CBORCursorTests {
    @Test("reads a canonical map of text, unsigned, bytes and compares keys without copying")
    func reads() throws {
        let bytes = try CBORValue.map([
            CBORMapEntry("a", .unsigned(500)), CBORMapEntry("bb", .bytes([1, 2, 3])), CBORMapEntry("ccc", .text("é")),
        ]).encoded()
        var cursor = CBORCursor(bytes)
        #expect(try cursor.readMapCount() == 3)
        #expect(try cursor.readText(equals: "a"))
        #expect(try cursor.readUnsigned() == 500)
        #expect(try cursor.readText(equals: "bx") == false)
        #expect(Array(bytes[try cursor.readByteStringRange()]) == [1, 2, 3])
        #expect(try cursor.readText() == "ccc")
        #expect(try cursor.readText() == "é")
        #expect(cursor.isAtEnd)
    }

    @Test(
        "refuses non-shortest heads, indefinite lengths, the wrong major type, truncation and invalid UTF-8",
        arguments: [
            ("non-shortest unsigned", [0x18, 0x05], "unsigned"),
            ("non-shortest two-byte unsigned", [0x19, 0x00, 0xff], "unsigned"),
            ("indefinite byte string", [0x5f, 0x41, 0x00, 0xff], "bytes"),
            ("wrong major type", [0x61, 0x61], "unsigned"),
            ("cut-off head", [0x19, 0x01], "unsigned"),
            ("byte string longer than the input", [0x45, 0x01, 0x02], "bytes"),
            ("text longer than the input", [0x65, 0x61], "text"),
            ("invalid UTF-8", [0x62, 0xc3, 0x28], "text"),
            ("empty input", [], "map"),
            ("map claiming more entries than bytes", [0xb8, 0x20, 0x00], "map"),
        ] as [(String, [UInt8], String)])
    func refuses(name: String, bytes: [UInt8], read: String) {
        var cursor = CBORCursor(bytes)
        #expect(throws: CBORError.self, "\(name)") {
            switch read {
            case "unsigned": _ = try cursor.readUnsigned()
            case "bytes": _ = try cursor.readByteString()
            case "text": _ = try cursor.readText()
            default: _ = try cursor.readMapCount()
            }
        }
    }

    @Test(
        "a map of byte strings is read in place; another count, keys out of deterministic order or repeated, or a type is refused"
    )
    func byteStringFields() throws {
        let encoded = try CBORValue.map([
            CBORMapEntry("parameters", .bytes([1, 2, 3, 4])), CBORMapEntry("header", .bytes([9])),
        ]).encoded()
        var cursor = CBORCursor(encoded)
        let fields = try cursor.readByteStringFields(count: 2)
        #expect(cursor.isAtEnd)
        #expect(try encoded[#require(fields["parameters"])] == [1, 2, 3, 4])
        #expect(try encoded[#require(fields["header"])] == [9])
        for (name, bytes) in [
            ("one entry, two expected", try CBORValue.map([CBORMapEntry("a", .bytes([1]))]).encoded()),
            ("a repeated key", [0xa2, 0x61, 0x61, 0x41, 0x01, 0x61, 0x61, 0x41, 0x02]),
            // "b" before "a", and the longer "aa" before the shorter "b": both out of bytewise order of encodings.
            ("keys out of order", [0xa2, 0x61, 0x62, 0x41, 0x01, 0x61, 0x61, 0x41, 0x02]),
            ("a longer key first", [0xa2, 0x62, 0x61, 0x61, 0x41, 0x01, 0x61, 0x62, 0x41, 0x02]),
            (
                "a text value",
                try CBORValue.map([CBORMapEntry("a", .text("x")), CBORMapEntry("b", .bytes([]))]).encoded()
            ),
        ] as [(String, [UInt8])] {
            var other = CBORCursor(bytes)
            #expect(throws: CBORError.self, "\(name)") { _ = try other.readByteStringFields(count: 2) }
        }
    }

    @Test("a cursor over a range reads the item there, returns ranges of the whole, and stops at the range's end")
    func range() throws {
        let item = try CBORValue.map([CBORMapEntry("k", .bytes([7, 8]))]).encoded()
        let whole = [0xaa, 0xbb] + item + [0x41, 0x09]
        var cursor = CBORCursor(whole, range: 2..<(2 + item.count))
        let fields = try cursor.readByteStringFields(count: 1)
        #expect(cursor.isAtEnd && cursor.offset == 2 + item.count)
        #expect(try whole[#require(fields["k"])] == [7, 8])
        // The byte string's length is within the array but past the range: truncated, not read.
        var short = CBORCursor(whole, range: 2..<(2 + item.count - 1))
        #expect(throws: CBORError.self) { _ = try short.readByteStringFields(count: 1) }
    }
}
