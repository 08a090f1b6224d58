/// The 4 KiB of random words a buffered generator (`BufferedSecureRandom`, `KeyedRandomStream`) draws from: each word
/// is zeroed once drawn, so a word handed out is never left in memory here. The generator refills it when it is empty,
/// from its own source.
@usableFromInline
struct RandomWords: Sendable {
    /// One refill: 4 KiB, 512 words.
    static let count = 512
    /// Kept inline (not an array), so that zeroing a drawn word is a store, with no copy-on-write check of a buffer.
    @usableFromInline var words = InlineArray<512, UInt64>(repeating: 0)
    /// The next word's index in `words`; at its end the buffer is empty.
    @usableFromInline var position = count

    @inlinable
    var isEmpty: Bool { position == words.count }

    /// The next word, zeroed in the buffer. The buffer must not be empty.
    @inlinable
    mutating func take() -> UInt64 {
        let value = words[position]
        words[position] = 0
        position += 1
        return value
    }

    /// Overwrites every word with the bytes `fill` writes, and starts again at the first.
    mutating func refill(_ fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        var span = words.mutableSpan
        try span.withUnsafeMutableBytes(fill)
        position = 0
    }
}
