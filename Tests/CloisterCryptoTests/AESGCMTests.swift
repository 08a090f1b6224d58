import CloisterCrypto
import CloisterTestSupport
import Testing

private struct GCMFile: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        let `case`: Int
        let key: String
        let iv: String
        let pt: String
        let aad: String
        let ct: String
        let tag: String
        var testDescription: String { "GCM test case \(self.case) (AES-\(key.count * 4))" }
    }
    let cases: [Case]
}

@Suite("AES-GCM (GCM specification test cases)")
struct AESGCMTests {
    private static let cases = (try? loadVectors("gcm-spec-aes-gcm.json", as: GCMFile.self).cases) ?? []

    @Test("vectors cover both key sizes, empty and non-empty plaintext and associated data")
    func coverage() {
        #expect(Self.cases.count == 8)
        #expect(Set(Self.cases.map(\.key.count)) == [32, 64])
        #expect(Self.cases.contains { $0.pt.isEmpty } && Self.cases.contains { !$0.aad.isEmpty })
    }

    @Test("encryption gives the exact ciphertext and tag; decryption gives the plaintext", arguments: cases)
    fileprivate func knownAnswer(_ vector: GCMFile.Case) throws {
        let key = try AESGCMKey(bytes(fromHex: vector.key))
        let sealed = try key.seal(
            bytes(fromHex: vector.pt), nonce: bytes(fromHex: vector.iv), associatedData: bytes(fromHex: vector.aad))
        #expect(hexString(sealed) == vector.ct + vector.tag)
        let opened = try key.open(sealed, nonce: bytes(fromHex: vector.iv), associatedData: bytes(fromHex: vector.aad))
        #expect(hexString(opened) == vector.pt)
    }

    @Test("a wrong tag, a changed ciphertext byte, changed associated data, nonce or key each fail", arguments: cases)
    fileprivate func failures(_ vector: GCMFile.Case) throws {
        let key = try AESGCMKey(bytes(fromHex: vector.key))
        let nonce = bytes(fromHex: vector.iv)
        let aad = bytes(fromHex: vector.aad)
        let sealed = bytes(fromHex: vector.ct + vector.tag)
        for index in sealed.indices {
            var altered = sealed
            altered[index] ^= 0x80
            #expect(
                throws: CryptoError(
                    .authenticationFailure,
                    "AES-GCM tag check failed: wrong key, nonce or associated data, or altered ciphertext")
            ) {
                try key.open(altered, nonce: nonce, associatedData: aad)
            }
        }
        #expect(throws: CryptoError.self) { try key.open(sealed, nonce: nonce, associatedData: aad + [0]) }
        var otherNonce = nonce
        otherNonce[0] ^= 1
        #expect(throws: CryptoError.self) { try key.open(sealed, nonce: otherNonce, associatedData: aad) }
        var otherKey = bytes(fromHex: vector.key)
        otherKey[0] ^= 1
        #expect(throws: CryptoError.self) { try AESGCMKey(otherKey).open(sealed, nonce: nonce, associatedData: aad) }
    }

    @Test("bad key, nonce and input lengths are refused with a reason")
    func lengths() throws {
        #expect(throws: CryptoError.self) { try AESGCMKey([UInt8](repeating: 0, count: 24)) }
        let key = try AESGCMKey(randomOfByteCount: 32)
        #expect(throws: CryptoError.self) { try key.seal([UInt8](), nonce: [UInt8](repeating: 0, count: 16)) }
        #expect(throws: CryptoError.self) {
            try key.open([UInt8](repeating: 0, count: 15), nonce: [UInt8](repeating: 0, count: 12))
        }
    }

    @Test("round trip of large, sliced input")
    func largeRoundTrip() throws {
        let key = try AESGCMKey(randomOfByteCount: 16)
        let nonce = try SecureRandom.bytes(count: 12)
        let message = try SecureRandom.bytes(count: 1 << 20)
        let sealed = try key.seal(message[1...], nonce: nonce, associatedData: Array("region=7".utf8))
        #expect(try key.open(sealed, nonce: nonce, associatedData: Array("region=7".utf8)) == Array(message[1...]))
    }
}
