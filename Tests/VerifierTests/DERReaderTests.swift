import Testing

@testable import Attestation

@Suite("The strict DER reader of vendor extensions: each rule refuses on its own")
struct DERReaderTests {
    private func reader(_ bytes: [UInt8]) -> DERReader {
        DERReader(bytes[...], subject: "test")
    }

    @Test("well-formed elements read: integers, octets, an object identifier, booleans, a long length")
    func reads() throws {
        var integers = reader([0x02, 0x01, 0x7F, 0x02, 0x02, 0x00, 0x80, 0x0A, 0x01, 0x02])
        #expect(try integers.unsigned("a", maximum: 255) == 127)
        #expect(try integers.unsigned("b", maximum: 255) == 128)
        #expect(try integers.unsigned("c", tag: DERReader.enumerated, maximum: 2) == 2)
        #expect(integers.isAtEnd)
        var oid = reader([0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF8, 0x4D, 0x01, 0x0D, 0x01])
        #expect(try oid.objectIdentifier("oid") == "1.2.840.113741.1.13.1")
        var flags = reader([0x01, 0x01, 0xFF, 0x01, 0x01, 0x00])
        #expect(try flags.boolean("t") && !(try flags.boolean("f")))
        var long = reader([0x04, 0x81, 0x80] + [UInt8](repeating: 7, count: 128))
        #expect(try long.octets("long", count: 128).count == 128)
    }

    @Test(
        "each malformed encoding is refused naming its rule",
        arguments: [
            ([0x02, 0x02, 0x00, 0x01], "not a non-negative integer in its shortest form"),
            ([0x02, 0x01, 0x80], "not a non-negative integer in its shortest form"),
            ([0x02, 0x02, 0x01, 0x00], "is 256, above 255"),
            ([0x04, 0x81, 0x01, 0x00], "has a length not in its shortest form"),
            ([0x04, 0x85, 0, 0, 0, 0, 1], "has an unreadable length"),
            ([0x04, 0x05, 0x00], "states 5 bytes where 1 remain"),
            ([0x1F, 0x01, 0x00], "has a multi-byte tag"),
            ([0x04], "is cut off after its tag"),
            ([], "is missing"),
            ([0x05, 0x00], "has tag 0x5, not 0x2"),
        ] as [([UInt8], String)])
    func refusedIntegers(bytes: [UInt8], expected: String) {
        var element = reader(bytes)
        let error = #expect(throws: AttestationError.self) { try element.unsigned("x", maximum: 255) }
        #expect(error?.reason.contains(expected) == true, "\(error?.reason ?? "")")
    }

    @Test("booleans other than 00 and FF, wrong-sized octets and unterminated identifiers are refused")
    func refusedValues() {
        var boolean = reader([0x01, 0x01, 0x01])
        #expect(throws: AttestationError.self) { try boolean.boolean("b") }
        var octets = reader([0x04, 0x01, 0x00])
        #expect(throws: AttestationError.self) { try octets.octets("o", count: 2) }
        var oid = reader([0x06, 0x02, 0x2A, 0x86])
        #expect(throws: AttestationError.self) { try oid.objectIdentifier("oid") }
        var padded = reader([0x06, 0x03, 0x2A, 0x80, 0x01])  // an arc with a leading 0x80: not minimal
        #expect(throws: AttestationError.self) { try padded.objectIdentifier("oid") }
    }
}
