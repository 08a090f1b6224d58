import Testing

@testable import VendorCollateral

/// The signed item cut out of a PCS answer: exactly the bytes served, from strictly checked JSON.
@Suite("signed items cut out of PCS answers byte for byte")
struct SignedJSONItemTests {
    private static let signature = String(repeating: "ab", count: 64)

    private func item(_ body: String) throws(PCSError) -> String {
        String(
            decoding: try SignedJSONItem(Array(body.utf8), member: "tcbInfo", url: "https://pccs.example/tcb").item,
            as: UTF8.self)
    }

    @Test("the value's bytes as served: spacing, key order, escapes and numbers untouched")
    func exactBytes() throws {
        let value = #"{ "b" :1.50e+3,"a":[true ,null,"\u00e9\/\"x"], "c":{}}"#
        #expect(try item(#"  {"signature":"\#(Self.signature)","\u0074cbInfo"  :\#(value)  }"#) == value)
    }

    @Test("anything but one JSON object with an object item and a 64-byte hex signature is refused")
    func refusals() {
        let nested = String(repeating: "[", count: 70) + String(repeating: "]", count: 70)
        for (body, says) in [
            (#"{"tcbInfo":{"x":\#(nested)},"signature":"\#(Self.signature)"}"#, "nested deeper than 64 levels"),
            (#"{"tcbInfo":{"x":01},"signature":"\#(Self.signature)"}"#, "expected '}'"),
            (#"{"tcbInfo":{"x":"\ud800"},"signature":"\#(Self.signature)"}"#, "a high surrogate is not followed"),
            (#"{"tcbInfo":{"x":"\q"},"signature":"\#(Self.signature)"}"#, "an unknown escape"),
            ("{\"tcbInfo\":{\"x\":\"\u{01}\"},\"signature\":\"\(Self.signature)\"}", "control character 0x1"),
            (#"{"tcbInfo":{},"signature":"\#(Self.signature)"} {}"#, "text follows the object"),
            (#"{"tcbInfo":[],"signature":"\#(Self.signature)"}"#, "no member \"tcbInfo\" holding an object"),
            (#"{"tcbInfo":{},"signature":"\u0061b"}"#, "64-byte ECDSA P-256 signature"),
            (#"{"tcbInfo":{},"signature":"\#(Self.signature)","#, "expected '\"'"),
        ] {
            #expect {
                _ = try item(body)
            } throws: { error in
                (error as? PCSError)?.reason.contains(says) == true
                    && (error as? PCSError)?.reason.hasPrefix("GET https://pccs.example/tcb: the body ") == true
            }
        }
    }
}
