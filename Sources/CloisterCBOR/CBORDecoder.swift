public import CloisterCrypto

/// Resource limits a decoder enforces while it parses, before any item exceeding them is built.
public struct CBORLimits: Sendable, Hashable {
    /// How deeply arrays, maps, tags and indefinite-length strings may nest.
    public var maximumDepth: Int
    /// How many data items (every head, including nested ones and string chunks) the input may hold.
    public var maximumItemCount: Int
    /// How many bytes the input may have.
    public var maximumInputSize: Int

    /// Limits with the given bounds; the defaults suit attestation documents with room to spare.
    public init(maximumDepth: Int = 64, maximumItemCount: Int = 1_000_000, maximumInputSize: Int = 16 << 20) {
        self.maximumDepth = maximumDepth
        self.maximumItemCount = maximumItemCount
        self.maximumInputSize = maximumInputSize
    }

    /// Depth 64, one million items, 16 MiB.
    public static let `default` = CBORLimits()
}

/// Decodes untrusted CBOR into `CBORValue`s with libcbor's streaming decoder, enforcing limits while parsing.
///
/// Definite and indefinite lengths, tags, all float widths and simple values are accepted; truncation, trailing
/// bytes, invalid UTF-8, reserved additional information, stray breaks and (unless allowed) duplicate map keys
/// are rejected with a `CBORError`.
public struct CBORDecoder: Sendable {
    /// The limits enforced while parsing.
    public var limits: CBORLimits
    /// Whether a map may hold the same key twice (RFC 8949 §5.6 leaves this to the application; COSE forbids it).
    public var allowsDuplicateMapKeys: Bool

    /// A decoder with `limits` that, by default, rejects duplicate map keys.
    public init(limits: CBORLimits = .default, allowsDuplicateMapKeys: Bool = false) {
        self.limits = limits
        self.allowsDuplicateMapKeys = allowsDuplicateMapKeys
    }

    /// Decodes exactly one data item that spans all of `input`.
    public func decode(_ input: some ContiguousBytesView) throws(CBORError) -> CBORValue {
        let (value, byteCount) = try decodePrefix(input)
        let inputCount = input.withBytes { $0.count }
        guard byteCount == inputCount else {
            throw CBORError(
                .trailingBytes,
                "\(inputCount - byteCount) bytes follow the top-level item",
                offset: byteCount
            )
        }
        return value
    }

    /// Decodes the data item at the start of `input`, returning it and how many bytes it took.
    public func decodePrefix(_ input: some ContiguousBytesView) throws(CBORError) -> (value: CBORValue, byteCount: Int)
    {
        let outcome = input.withBytes { buffer in
            Result { () throws(CBORError) in
                try CBORStreamParser(input: buffer, limits: limits, allowsDuplicateMapKeys: allowsDuplicateMapKeys)
                    .parse()
            }
        }
        return try outcome.get()
    }
}
