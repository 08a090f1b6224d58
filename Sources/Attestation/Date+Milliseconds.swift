public import FoundationEssentials

extension Date {
    /// Whole milliseconds since the Unix epoch (0 for earlier dates), as evidence timestamps count time.
    public var millisecondsSince1970: UInt64 {
        UInt64(max(0, (timeIntervalSince1970 * 1000).rounded(.down)))
    }

    /// The date `milliseconds` after the Unix epoch.
    public init(millisecondsSince1970 milliseconds: UInt64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }
}
