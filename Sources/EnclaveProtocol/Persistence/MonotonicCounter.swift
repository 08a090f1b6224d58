/// A monotonic counter's id and a value it had: what sealed state carries to detect rollback.
public struct MonotonicCounter: Sendable, Hashable {
    /// The byte count of a counter id.
    public static let idByteCount = 16

    /// 16 random bytes naming the counter on its platform.
    public let id: [UInt8]
    public let value: UInt64

    public init(id: [UInt8], value: UInt64) {
        self.id = id
        self.value = value
    }
}
