extension [UInt8] {
    /// The little-endian integer of type `type` at `offset`, or nil when the bytes end before it.
    func littleEndian<Integer: FixedWidthInteger>(_ type: Integer.Type, at offset: Int) -> Integer? {
        let width = Integer.bitWidth / 8
        guard offset >= 0, offset <= count - width else { return nil }
        return self[offset..<(offset + width)].reversed().reduce(0) { $0 << 8 | Integer($1) }
    }
}
