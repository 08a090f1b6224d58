import Testing

@testable import CloisterCrypto

@Suite("BufferedSecureRandom: OpenSSL's DRBG, 4 KiB at a time")
struct BufferedSecureRandomTests {
    /// Three blocks past the first and a few words more: 1,541 words, of which two equal by chance with probability
    /// below 10⁻¹³.
    @Test("its words are fresh across refills, and each is wiped from the buffer once drawn")
    func refillsAndWipes() throws {
        var random = BufferedSecureRandom()
        var words = Set<UInt64>()
        let count = 3 * 512 + 5
        for _ in 0..<count {
            words.insert(random.next())
            try #require(random.words.words[random.words.position - 1] == 0)
        }
        #expect(words.count == count)
        #expect((0..<random.words.position).allSatisfy { random.words.words[$0] == 0 })
    }
}
