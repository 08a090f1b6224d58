import CloisterCrypto
import CloisterTestSupport
import Testing

private struct SHAFile: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        let message: String
        let `repeat`: Int
        let sha256: String?
        let sha384: String?
        let sha512: String?
        var testDescription: String { "\(message.prefix(12))… × \(self.repeat)" }
    }
    let cases: [Case]
}

private struct HMACFile: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        let `case`: Int
        let key: String
        let data: String
        let truncate: Int?
        let sha256: String
        let sha384: String
        let sha512: String
        var testDescription: String { "RFC 4231 case \(self.case)" }
    }
    let cases: [Case]
}

private struct HKDFFile: Decodable {
    struct Case: Decodable, CustomTestStringConvertible {
        let `case`: Int
        let ikm: String
        let salt: String
        let info: String
        let length: Int
        let prk: String
        let okm: String
        var testDescription: String { "RFC 5869 case \(self.case)" }
    }
    let cases: [Case]
}

@Suite("SHA-2 (FIPS 180-4)")
struct DigestTests {
    private static let cases = (try? loadVectors("fips180-sha2.json", as: SHAFile.self).cases) ?? []

    @Test("known answers", arguments: cases)
    fileprivate func knownAnswer(_ vector: SHAFile.Case) {
        let message = Array(String(repeating: vector.message, count: vector.repeat).utf8)
        for (algorithm, expected) in [
            (DigestAlgorithm.sha256, vector.sha256), (.sha384, vector.sha384), (.sha512, vector.sha512),
        ] {
            guard let expected else { continue }
            #expect(hexString(algorithm.hash(message)) == expected, "\(algorithm.rawValue)")
        }
    }

    @Test("vector file holds every FIPS example")
    func vectorsLoaded() { #expect(Self.cases.count == 5) }

    @Test("incremental hashing equals one-shot hashing at every split point")
    func incremental() {
        let message = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        for algorithm in DigestAlgorithm.allCases {
            for split in 0...message.count {
                var hasher = DigestAlgorithm.Hasher(algorithm)
                hasher.update(message[..<split])
                hasher.update(message[split...])
                #expect(hasher.finalize() == algorithm.hash(message))
            }
        }
    }
}

@Suite("HMAC (RFC 4231)")
struct HMACTests {
    private static let cases = (try? loadVectors("rfc4231-hmac.json", as: HMACFile.self).cases) ?? []

    @Test("known answers", arguments: cases)
    fileprivate func knownAnswer(_ vector: HMACFile.Case) throws {
        for (algorithm, expected) in [
            (DigestAlgorithm.sha256, vector.sha256), (.sha384, vector.sha384), (.sha512, vector.sha512),
        ] {
            let code = try HMAC.authenticationCode(
                for: bytes(fromHex: vector.data), key: bytes(fromHex: vector.key), digest: algorithm)
            #expect(hexString(code.prefix(vector.truncate ?? code.count)) == expected, "\(algorithm.rawValue)")
        }
    }

    @Test("all seven RFC cases are present")
    func vectorsLoaded() { #expect(Self.cases.map(\.case) == Array(1...7)) }

    @Test("verification accepts the right MAC and rejects a changed one, a changed key and a truncated one")
    func verification() throws {
        let key = Array("Jefe".utf8)
        let message = Array("what do ya want for nothing?".utf8)
        let code = try HMAC.authenticationCode(for: message, key: key, digest: .sha256)
        #expect(try HMAC.isValidAuthenticationCode(code, for: message, key: key, digest: .sha256))
        var altered = code
        altered[31] ^= 1
        #expect(try !HMAC.isValidAuthenticationCode(altered, for: message, key: key, digest: .sha256))
        #expect(try !HMAC.isValidAuthenticationCode(code, for: message, key: Array("Jeff".utf8), digest: .sha256))
        #expect(try !HMAC.isValidAuthenticationCode(Array(code.prefix(16)), for: message, key: key, digest: .sha256))
    }

    @Test("an empty key is a valid HMAC key")
    func emptyKey() throws {
        let code = try HMAC.authenticationCode(for: [UInt8](), key: [UInt8](), digest: .sha256)
        #expect(hexString(code) == "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad")
    }

    @Test("each digest keeps its own output length, and MACs from many tasks at once agree")
    func concurrentUse() async throws {
        let key = Array("Jefe".utf8)
        let message = Array("what do ya want for nothing?".utf8)
        let allCodes: @Sendable () throws -> [[UInt8]] = {
            try DigestAlgorithm.allCases.map { try HMAC.authenticationCode(for: message, key: key, digest: $0) }
        }
        let expected = try allCodes()
        #expect(expected.map(\.count) == [32, 48, 64])
        try await withThrowingTaskGroup(of: [[UInt8]].self) { group in
            for _ in 0..<8 {
                group.addTask { try (0..<100).flatMap { _ in try allCodes() } }
            }
            for try await codes in group {
                #expect(codes == Array(repeating: expected, count: 100).flatMap { $0 })
            }
        }
    }

    @Test("constant-time comparison: equal, different, different lengths, empty")
    func constantTime() {
        #expect(constantTimeEquals([1, 2, 3] as [UInt8], [1, 2, 3] as [UInt8]))
        #expect(!constantTimeEquals([1, 2, 3] as [UInt8], [1, 2, 4] as [UInt8]))
        #expect(!constantTimeEquals([1, 2, 3] as [UInt8], [1, 2] as [UInt8]))
        #expect(constantTimeEquals([UInt8](), [UInt8]()))
        #expect(!constantTimeEquals([UInt8](), [0] as [UInt8]))
    }
}

@Suite("HKDF (RFC 5869)")
struct HKDFTests {
    private static let cases = (try? loadVectors("rfc5869-hkdf.json", as: HKDFFile.self).cases) ?? []

    @Test("known answers: extract, expand and one-shot", arguments: cases)
    fileprivate func knownAnswer(_ vector: HKDFFile.Case) throws {
        let prk = try HKDF.extract(
            inputKeyMaterial: bytes(fromHex: vector.ikm), salt: bytes(fromHex: vector.salt), digest: .sha256)
        #expect(hexString(prk) == vector.prk)
        let okm = try HKDF.expand(
            pseudorandomKey: prk, info: bytes(fromHex: vector.info), length: vector.length, digest: .sha256)
        #expect(hexString(okm) == vector.okm)
        let oneShot = try HKDF.deriveKey(
            inputKeyMaterial: bytes(fromHex: vector.ikm), salt: bytes(fromHex: vector.salt),
            info: bytes(fromHex: vector.info), length: vector.length, digest: .sha256)
        #expect(oneShot == okm)
    }

    @Test("all three RFC cases are present")
    func vectorsLoaded() { #expect(Self.cases.count == 3) }

    @Test("output lengths outside 1...255·HashLen and short PRKs are refused")
    func limits() throws {
        let prk = [UInt8](repeating: 1, count: 32)
        #expect(throws: CryptoError.self) {
            try HKDF.expand(pseudorandomKey: prk, info: [UInt8](), length: 255 * 32 + 1, digest: .sha256)
        }
        #expect(throws: CryptoError.self) {
            try HKDF.expand(pseudorandomKey: prk, info: [UInt8](), length: 0, digest: .sha256)
        }
        #expect(throws: CryptoError.self) {
            try HKDF.expand(pseudorandomKey: Array(prk.prefix(16)), info: [UInt8](), length: 32, digest: .sha256)
        }
        #expect(
            try HKDF.expand(pseudorandomKey: prk, info: [UInt8](), length: 255 * 32, digest: .sha256).count == 255 * 32)
    }

    @Test("one-shot derivation names the limit it broke, per digest", arguments: DigestAlgorithm.allCases)
    func deriveKeyLimits(digest: DigestAlgorithm) throws {
        let maximum = 255 * digest.outputByteCount
        for length in [0, maximum + 1] {
            #expect(
                throws: CryptoError(
                    .invalidParameter,
                    "HKDF output length \(length) is outside 1...\(maximum) (255·HashLen) for \(digest.rawValue)")
            ) {
                try HKDF.deriveKey(
                    inputKeyMaterial: [1] as [UInt8], salt: [UInt8](), info: [UInt8](), length: length, digest: digest)
            }
        }
        let longest = try HKDF.deriveKey(
            inputKeyMaterial: [1] as [UInt8], salt: [UInt8](), info: [UInt8](), length: maximum, digest: digest)
        #expect(longest.count == maximum)
    }

    @Test("extract is HMAC(salt, IKM), also for empty input keying material and an absent salt")
    func extractIsHMAC() throws {
        for digest in DigestAlgorithm.allCases {
            let zeros = [UInt8](repeating: 0, count: digest.outputByteCount)
            for ikm in [[], Array("ikm".utf8)] as [[UInt8]] {
                let prk = try HKDF.extract(inputKeyMaterial: ikm, salt: [UInt8](), digest: digest)
                #expect(prk == (try HMAC.authenticationCode(for: ikm, key: zeros, digest: digest)))
                let salted = try HKDF.extract(inputKeyMaterial: ikm, salt: [9, 9] as [UInt8], digest: digest)
                #expect(salted == (try HMAC.authenticationCode(for: ikm, key: [9, 9] as [UInt8], digest: digest)))
            }
        }
    }
}
