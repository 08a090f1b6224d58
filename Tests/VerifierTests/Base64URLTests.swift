import Testing

@testable import Verifier

@Suite("base64url without padding (RFC 4648 §5)")
struct Base64URLTests {
    @Test("RFC 4648 §10's vectors with the padding removed, the two URL-safe letters, and appending after text")
    func knownAnswers() {
        let vectors = [
            ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"), ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ]
        for (input, expected) in vectors {
            #expect(base64URL(Array(input.utf8)[...]) == expected, "\(input)")
        }
        #expect(base64URL([0xfb, 0xff][...]) == "-_8")
        #expect(base64URL([0xff, 0xff, 0xfe][...]) == "___-")
        var output = Array("x.".utf8)
        appendBase64URL(Array("foob".utf8)[2...], to: &output)
        #expect(String(decoding: output, as: UTF8.self) == "x.b2I")
    }
}
