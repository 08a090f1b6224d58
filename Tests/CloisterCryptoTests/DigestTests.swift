import CloisterCrypto
import CloisterTestSupport
import Testing

@Suite("SHA-2 known answers (FIPS 180-4 examples)")
struct DigestTests {
    @Test("SHA-256 of \"abc\"")
    func sha256abc() {
        #expect(hexString(DigestAlgorithm.sha256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
