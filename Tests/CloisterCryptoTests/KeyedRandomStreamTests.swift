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
        // GCM encrypts with the counter block nonce || 0x00000002 onward (NIST SP 800-38D §7.1); stream 5, block 0.
        let iv = "0000000000000005" + "00000000" + "00000002"
        let result = try runTool(
            "/bin/sh",
            [
                "-c",
                "head -c 4096 /dev/zero | openssl enc -aes-256-ctr -nosalt -K \(hexEncoded(Self.key)) -iv \(iv) "
                    + "| od -An -v -tx1",
            ])
        #expect(result.status == 0, "\(result.standardError)")
        let expected = hexDecoded(result.standardOutput.filter(\.isHexDigit))
        let words = try Self.draw(512, stream: 5)
        #expect(expected == words.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) })
    }

    @Test("is the same for the same key and stream, and independent across streams")
    func reproducible() throws {
        #expect(try Self.draw(600, stream: 9) == Self.draw(600, stream: 9))
        #expect(try Self.draw(600, stream: 9) != Self.draw(600, stream: 10))
        #expect(throws: CryptoError.self) { try KeyedRandomStream(key: [1, 2, 3], stream: 0) }
    }
}
