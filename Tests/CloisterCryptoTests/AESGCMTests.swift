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

private struct CAVPFile: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        let file: String
        let operation: String
        let key: String
        let iv: String
        let pt: String?
        let aad: String
        let ct: String
        let tag: String
        let result: String?
        var fails: Bool { result == "FAIL" }
        var testDescription: String { "\(file) key \(key.prefix(8))…\(fails ? " (FAIL)" : "")" }
    }
    let cases: [Case]
}

@Suite("AES-GCM (NIST CAVP GCMVS vectors)")
struct AESGCMCAVPTests {
    private static let cases = (try? loadVectors("nist-cavp-aes-gcm.json", as: CAVPFile.self).cases) ?? []
    private static let authenticationFailure = CryptoError(
        .authenticationFailure, "AES-GCM tag check failed: wrong key, nonce or associated data, or altered ciphertext")

    @Test("vectors cover both key sizes, both files, empty plaintext, associated data and a FAIL per key size")
    func coverage() {
        for keyHexCount in [32, 64] {
            let sized = Self.cases.filter { $0.key.count == keyHexCount }
            #expect(sized.filter { $0.operation == "encrypt" }.count >= 6)
            #expect(sized.filter { $0.operation == "decrypt" }.count >= 6)
            #expect(sized.contains { $0.fails })
            #expect(sized.contains { $0.pt == "" && !$0.fails })
            #expect(sized.contains { !$0.aad.isEmpty && !($0.pt ?? "").isEmpty && !$0.fails })
        }
    }

    @Test("encryption gives the exact ciphertext and tag", arguments: cases.filter { $0.operation == "encrypt" })
    fileprivate func encrypt(_ vector: CAVPFile.Case) throws {
        let key = try AESGCMKey(bytes(fromHex: vector.key))
        let plaintext = bytes(fromHex: try #require(vector.pt))
        let sealed = try key.seal(
            plaintext, nonce: bytes(fromHex: vector.iv), associatedData: bytes(fromHex: vector.aad))
        #expect(hexString(sealed) == vector.ct + vector.tag)
        let box = try AESGCM.seal(
            plaintext, key: key, nonce: bytes(fromHex: vector.iv), associatedData: bytes(fromHex: vector.aad))
        #expect(hexString(box.ciphertext) == vector.ct && hexString(box.tag) == vector.tag)
        #expect(try AESGCM.open(box, key: key, associatedData: bytes(fromHex: vector.aad)) == plaintext)
    }

    @Test("decryption returns the plaintext, or throws for a FAIL vector", arguments: cases)
    fileprivate func decrypt(_ vector: CAVPFile.Case) throws {
        let key = try AESGCMKey(bytes(fromHex: vector.key))
        let box = try AESGCM.SealedBox(
            nonce: bytes(fromHex: vector.iv), ciphertext: bytes(fromHex: vector.ct), tag: bytes(fromHex: vector.tag))
        let aad = bytes(fromHex: vector.aad)
        if vector.fails {
            #expect(throws: Self.authenticationFailure) { try AESGCM.open(box, key: key, associatedData: aad) }
        } else {
            #expect(hexString(try AESGCM.open(box, key: key, associatedData: aad)) == vector.pt)
        }
    }

    @Test(
        "a changed first or last byte of ciphertext, tag or associated data fails",
        arguments: cases.filter { !$0.fails })
    fileprivate func tampering(_ vector: CAVPFile.Case) throws {
        let key = try AESGCMKey(bytes(fromHex: vector.key))
        let nonce = bytes(fromHex: vector.iv)
        let aad = bytes(fromHex: vector.aad)
        let sealed = bytes(fromHex: vector.ct + vector.tag)
        let ciphertextCount = vector.ct.count / 2
        var positions = [ciphertextCount, sealed.count - 1]
        if ciphertextCount > 0 { positions += [0, ciphertextCount - 1] }
        for index in positions {
            var altered = sealed
            altered[index] ^= 0x01
            #expect(throws: Self.authenticationFailure) { try key.open(altered, nonce: nonce, associatedData: aad) }
        }
        for index in [0, aad.count - 1] where !aad.isEmpty {
            var altered = aad
            altered[index] ^= 0x01
            #expect(throws: Self.authenticationFailure) { try key.open(sealed, nonce: nonce, associatedData: altered) }
        }
        #expect(throws: Self.authenticationFailure) { try key.open(sealed, nonce: nonce, associatedData: aad + [0]) }
        // A dropped byte fails the tag, or (with no ciphertext) leaves too few bytes for one.
        #expect(throws: CryptoError.self) { try key.open(sealed.dropLast(), nonce: nonce, associatedData: aad) }
    }
}

@Suite("AES-GCM sealed boxes")
struct AESGCMSealedBoxTests {
    @Test("a box seals under a fresh random nonce by default and opens only with its associated data")
    func randomNonce() throws {
        let key = try AESGCMKey(randomOfByteCount: 16)
        let message = Array("enclave report".utf8)
        let first = try AESGCM.seal(message, key: key, associatedData: [1])
        let second = try AESGCM.seal(message, key: key, associatedData: [1])
        #expect(first.nonce.count == 12 && first.nonce != second.nonce && first.combined != second.combined)
        #expect(first.combined.count == message.count + 16)
        #expect(Array(first.ciphertext) + Array(first.tag) == first.combined)
        #expect(try AESGCM.open(first, key: key, associatedData: [1]) == message)
        #expect(throws: CryptoError.self) { try AESGCM.open(first, key: key, associatedData: [2]) }
        let rebuilt = try AESGCM.SealedBox(nonce: first.nonce, ciphertext: first.ciphertext, tag: first.tag)
        #expect(rebuilt == first)
    }

    @Test("malformed boxes are refused with the failing length")
    func malformed() {
        #expect(throws: CryptoError(.invalidParameter, "AES-GCM nonce must be 12 bytes, got 8")) {
            try AESGCM.SealedBox(nonce: [UInt8](repeating: 0, count: 8), combined: [UInt8](repeating: 0, count: 16))
        }
        #expect(throws: CryptoError(.malformedInput, "AES-GCM sealed box is 15 bytes, shorter than the 16-byte tag")) {
            try AESGCM.SealedBox(nonce: [UInt8](repeating: 0, count: 12), combined: [UInt8](repeating: 0, count: 15))
        }
        #expect(throws: CryptoError(.malformedInput, "AES-GCM tag must be 16 bytes, got 12")) {
            try AESGCM.SealedBox(
                nonce: [UInt8](repeating: 0, count: 12), ciphertext: [UInt8](), tag: [UInt8](repeating: 0, count: 12))
        }
    }

    @Test("one key seals and opens from many tasks at once")
    func concurrentUse() async throws {
        let key = try AESGCMKey(randomOfByteCount: 32)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for round in 0..<200 {
                        let message = Array("task \(task) round \(round)".utf8)
                        let box = try AESGCM.seal(message, key: key, associatedData: [UInt8(task)])
                        guard try AESGCM.open(box, key: key, associatedData: [UInt8(task)]) == message else {
                            throw CryptoError(.library, "round trip changed the message")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
