import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

@Suite("KeyedRandomStream")
struct KeyedRandomStreamTests {
    static let key = (0..<32).map { UInt8($0 &* 7 &+ 1) }

    static func draw(_ count: Int, stream: UInt64) throws -> [UInt64] {
        var random = try KeyedRandomStream(key: key, stream: stream)
        return (0..<count).map { _ in random.next() }
    }

    @Test("is the AES-256-CTR keystream from counter block stream || block || 2, as openssl enc computes it")
    func matchesOpenSSL() throws {
        // GCM encrypts with the counter block nonce || 0x00000002 onward (NIST SP 800-38D §7.1); stream 5, blocks 0
        // and 1 (4 KiB each).
        var expected: [UInt8] = []
        for block in ["00000000", "00000001"] {
            let iv = "0000000000000005" + block + "00000002"
            let result = try runTool(
                "/bin/sh",
                [
                    "-c",
                    "head -c 4096 /dev/zero | openssl enc -aes-256-ctr -nosalt -K \(hexEncoded(Self.key)) -iv \(iv) "
                        + "| od -An -v -tx1",
                ])
            #expect(result.status == 0, "\(result.standardError)")
            expected += try #require(hexDecoded(result.standardOutput.filter(\.isHexDigit)))
        }
        let words = try Self.draw(1_024, stream: 5)
        #expect(expected == words.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) })
    }

    @Test("is the same for the same key and stream, and independent across streams")
    func reproducible() throws {
        #expect(try Self.draw(600, stream: 9) == Self.draw(600, stream: 9))
        #expect(try Self.draw(600, stream: 9) != Self.draw(600, stream: 10))
        #expect(throws: CryptoError.self) { try KeyedRandomStream(key: [1, 2, 3], stream: 0) }
    }

    @Test("its AES-CTR key refuses a key or counter block of the wrong length, naming it")
    func refusals() throws {
        for length in [0, 16, 31, 33] {
            let error = try #require(throws: CryptoError.self) {
                try AESCTRKey([UInt8](repeating: 1, count: length))
            }
            #expect("\(error)".contains("must be 32 bytes, got \(length)"))
        }
        let key = try AESCTRKey(Self.key)
        var buffer = [UInt8](repeating: 0, count: 64)
        let error = try #require(throws: CryptoError.self) {
            try buffer.withUnsafeMutableBytes { try key.keystream(from: [UInt8](repeating: 0, count: 12), into: $0) }
        }
        #expect("\(error)".contains("counter block must be 16 bytes, got 12"))
    }

    @Test("random keys are fresh: eight of them give eight different first blocks of stream 0")
    func randomKeys() throws {
        let blocks = try (0..<8).map { _ in
            var generator = KeyedRandomStream(key: try AESCTRKey.random(), stream: 0)
            return (0..<4).map { _ in generator.next() }
        }
        #expect(Set(blocks).count == 8)
    }

    @Test("its AES-CTR key refuses a keystream past one OpenSSL update (2³¹ − 1 bytes) before writing a byte")
    func refusesOversizedKeystream() throws {
        let key = try AESCTRKey(Self.key)
        // The length is checked before the memory is touched, so one real byte can stand for 2³¹ of them.
        let byte = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
        defer { byte.deallocate() }
        byte.storeBytes(of: 0xA5, as: UInt8.self)
        let oversized = UnsafeMutableRawBufferPointer(start: byte, count: Int(Int32.max) + 1)
        let error = try #require(throws: CryptoError.self) {
            try key.keystream(from: [UInt8](repeating: 0, count: 16), into: oversized)
        }
        #expect("\(error)".contains("a keystream of 2147483648 bytes is past one update's length"))
        #expect(byte.load(as: UInt8.self) == 0xA5)
    }
}
