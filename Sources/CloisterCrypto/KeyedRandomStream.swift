/// A reproducible cryptographically secure stream of random numbers: the AES-256-CTR keystream under a secret key,
/// one independent stream per `stream` number. Nothing about the output can be predicted without the key; given the
/// key and the stream number it is the same every time, so a computation restarted from a checkpoint (which keeps the
/// key sealed) draws exactly the numbers it drew before.
///
/// The keystream comes in blocks of 4 KiB, block b of stream s from the counter block s (64 bits, big-endian) ‖ b
/// (32 bits) ‖ 2 (32 bits): the keystream AES-256-GCM encrypts with under the 96-bit nonce s ‖ b (NIST SP 800-38D
/// §7.1), which this stream was first drawn from, so its numbers are the same. (s, b) pairs never repeat under a key,
/// so no keystream byte is used twice. Each block is written by OpenSSL's AES-CTR straight into the stream's buffer,
/// 64-bit words read little-endian. Owned by one caller; each word is zeroed in the buffer once drawn (`RandomWords`).
///
/// `next()` is inlined into its callers (the samplers draw a few words a sample); only the refill is a call.
public struct KeyedRandomStream: RandomNumberGenerator, Sendable {
    private let key: AESCTRKey
    private let stream: UInt64
    private var block: UInt32 = 0
    /// One block of keystream: 4 KiB, 512 words.
    @usableFromInline var words = RandomWords()

    /// A stream under `key` (32 secret bytes); `stream` numbers the independent streams the key yields.
    public init(key: [UInt8], stream: UInt64) throws {
        self.init(key: try AESCTRKey(key), stream: stream)
    }

    /// A stream under an AES-256 `key` already set up (one key, many streams: no key schedule per stream).
    public init(key: AESCTRKey, stream: UInt64) {
        self.key = key
        self.stream = stream
    }

    @inlinable
    public mutating func next() -> UInt64 {
        if words.isEmpty { refill() }
        return UInt64(littleEndian: words.take())
    }

    @usableFromInline
    mutating func refill() {
        precondition(block < UInt32.max, "keyed random stream \(stream) is exhausted")
        let counter =
            withUnsafeBytes(of: stream.bigEndian, Array.init) + withUnsafeBytes(of: block.bigEndian, Array.init)
            + [0, 0, 0, 2]
        block += 1
        let key = key  // captured alone: the closure runs while `words` is being modified
        do {
            try words.refill { try key.keystream(from: counter, into: $0) }
        } catch {
            preconditionFailure("AES-CTR keystream failed: \(error)")
        }
    }
}
