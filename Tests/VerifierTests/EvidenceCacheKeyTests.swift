import Testing

@testable import Attestation

@Suite("Evidence cache keys")
struct EvidenceCacheKeyTests {
    @Test("equal exactly when the bytes are: same bytes, one byte changed, a prefix, empty")
    func equality() {
        typealias Key = EvidenceCache.Key
        let der = (0..<600).map { UInt8(truncatingIfNeeded: $0 * 7) }
        #expect(Key(bytes: der) == Key(bytes: Array(der)))
        var changed = der
        changed[599] ^= 1
        #expect(Key(bytes: der) != Key(bytes: changed))
        #expect(Key(bytes: der) != Key(bytes: Array(der.dropLast())))
        #expect(Key(bytes: []) == Key(bytes: []))
        #expect(Key(bytes: []) != Key(bytes: [0]))
        #expect(Set([Key(bytes: der), Key(bytes: changed), Key(bytes: der)]).count == 2)
    }
}
