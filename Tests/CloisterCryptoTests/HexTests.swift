import CloisterCrypto
import Testing

@Suite("Hexadecimal text")
struct HexTests {
    @Test("known answers: lower-case, two digits a byte, empty for empty")
    func knownAnswers() {
        #expect(hexEncoded([]) == "")
        #expect(hexEncoded([0x00, 0x0f, 0xa5, 0xff, 0x10]) == "000fa5ff10")
        #expect(hexDecoded("000FA5ff10") == [0x00, 0x0f, 0xa5, 0xff, 0x10])
    }

    @Test("odd lengths and non-hex digits are refused")
    func refusals() {
        #expect(hexDecoded("abc") == nil)
        #expect(hexDecoded("0g") == nil)
        #expect(hexDecoded("é0") == nil)
    }

    @Test("every byte value round-trips, and random strings of bytes do")
    func roundTrip() throws {
        let all = (0...255).map(UInt8.init)
        #expect(hexDecoded(hexEncoded(all)) == all)
        for count in [1, 7, 32, 1000] {
            let bytes = try SecureRandom.bytes(count: count)
            #expect(hexDecoded(hexEncoded(bytes)) == bytes)
        }
    }
}
