/// A reproducible cryptographically secure stream of random numbers: the AES-256-CTR keystream under a secret key,
/// one independent stream per `stream` number. Nothing about the output can be predicted without the key; given the
/// key and the stream number it is the same every time, so a computation restarted from a checkpoint (which keeps the
/// key sealed) draws exactly the numbers it drew before.
///
/// The keystream is produced by encrypting zero blocks with AES-256-GCM (whose encryption is AES-CTR) under the
/// 96-bit nonce `stream` (64 bits, big-endian) ‖ `block` (32 bits), 4 KiB per block, the tag discarded; (stream,
/// block) pairs never repeat under a key, so no keystream byte is used twice. Owned by one caller; each value is
/// zeroed in the buffer once drawn.
public struct KeyedRandomStream: RandomNumberGenerator, Sendable {
    private static let zeros = [UInt8](repeating: 0, count: 4096)

    private let key: AESGCMKey
    private let stream: UInt64
    private var block: UInt32 = 0
    private var buffer: [UInt64] = []
    private var position = 0

    /// A stream under `key` (32 secret bytes); `stream` numbers the independent streams the key yields.
    public init(key: [UInt8], stream: UInt64) throws {
        try self.init(key: AESGCMKey(key), stream: stream)
    }

    /// A stream under an AES-256 `key` already set up (one key, many streams: no key schedule per stream).
    public init(key: AESGCMKey, stream: UInt64) throws {
        guard key.byteCount == 32 else {
            throw CryptoError(.invalidKey, "a keyed random stream needs a 32-byte key, got \(key.byteCount) bytes")
        }
        self.key = key
        self.stream = stream
    }

    public mutating func next() -> UInt64 {
        if position == buffer.count { refill() }
        defer {
            buffer[position] = 0
            position += 1
        }
        return buffer[position]
    }

    private mutating func refill() {
        precondition(block < UInt32.max, "keyed random stream \(stream) is exhausted")
        let nonce =
            withUnsafeBytes(of: stream.bigEndian, Array.init) + withUnsafeBytes(of: block.bigEndian, Array.init)
        block += 1
        let keystream: [UInt8]
        do {
            keystream = try key.seal(Self.zeros, nonce: nonce)
        } catch {
            preconditionFailure("AES-GCM keystream failed: \(error)")
        }
        buffer = keystream.prefix(Self.zeros.count).withUnsafeBytes { raw in
            (0..<(Self.zeros.count / 8)).map {
                UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))
            }
        }
        position = 0
    }
}
