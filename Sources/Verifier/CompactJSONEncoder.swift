import FoundationEssentials

/// Encodes `Encodable` values as compact JSON (RFC 8259) straight into one byte buffer, for the service's hot paths
/// (attestation results, EAR claims): Foundation's `JSONEncoder` builds a tree of boxed values first, which costs
/// as much as the appraisal it reports. Slashes are not escaped; dates are ISO 8601 (UTC, whole seconds); non-finite
/// numbers are refused. With `sortedKeys`, every object's members come out in key order (byte-wise), as
/// `JSONEncoder`'s `.sortedKeys` does, so dictionaries encode the same every time.
public struct CompactJSONEncoder: Sendable {
    public var sortedKeys: Bool

    public init(sortedKeys: Bool = false) {
        self.sortedKeys = sortedKeys
    }

    public func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONStream(sortedKeys: sortedKeys)
        try encoder.encodeValue(value)
        return encoder.output
    }
}

/// The encoder behind `CompactJSONEncoder`: containers write into `output` as they are used; each open object or
/// array is a frame, closed when the value that opened it is done or a container below it writes again.
private final class JSONStream: Encoder {
    struct Frame {
        let isObject: Bool
        var count = 0
        /// Members of an object as (key, byte range in `output`), kept only to sort them on close.
        var members: [(key: String, range: Range<Int>)] = []
        var memberStart = 0
    }

    var output: [UInt8] = []
    var frames: [Frame] = []
    let sortedKeys: Bool
    var codingPath: [any CodingKey] = []
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(sortedKeys: Bool) {
        self.sortedKeys = sortedKeys
        output.reserveCapacity(2048)
    }

    // MARK: Values

    func encodeValue<T: Encodable>(_ value: T) throws {
        switch value {
        case let string as String: writeString(string)
        case let bool as Bool: output.append(contentsOf: (bool ? "true" : "false").utf8)
        case let integer as Int: output.append(contentsOf: String(integer).utf8)
        case let integer as UInt64: output.append(contentsOf: String(integer).utf8)
        case let integer as Int64: output.append(contentsOf: String(integer).utf8)
        case let integer as UInt32: output.append(contentsOf: String(integer).utf8)
        case let integer as UInt16: output.append(contentsOf: String(integer).utf8)
        case let integer as UInt8: output.append(contentsOf: String(integer).utf8)
        case let number as Double: try writeNumber(number)
        case let date as Date: writeString(date.formatted(.iso8601))
        default:
            let depth = frames.count
            let start = output.count
            try value.encode(to: self)
            close(downTo: depth)
            // A value that wrote nothing at all encodes as an empty object, as JSONEncoder's does.
            if output.count == start { output += [UInt8(ascii: "{"), UInt8(ascii: "}")] }
        }
    }

    func writeNumber(_ number: Double) throws {
        guard number.isFinite else {
            throw EncodingError.invalidValue(
                number, EncodingError.Context(codingPath: codingPath, debugDescription: "\(number) is not valid JSON"))
        }
        if number == number.rounded(), abs(number) < 1e15 {
            output.append(contentsOf: String(Int64(number)).utf8)
        } else {
            output.append(contentsOf: "\(number)".utf8)
        }
    }

    func writeNull() { output.append(contentsOf: "null".utf8) }

    func writeString(_ string: String) {
        var string = string
        output.append(UInt8(ascii: "\""))
        string.withUTF8 { bytes in
            // Runs that need no escaping are copied whole.
            var run = 0
            for index in bytes.indices {
                let byte = bytes[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<index]))
                writeEscape(byte)
                run = index + 1
            }
            output.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
        }
        output.append(UInt8(ascii: "\""))
    }

    private func writeEscape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): output += [UInt8(ascii: "\\"), byte]
        case 0x0a: output += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
        case 0x0d: output += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
        case 0x09: output += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
        default:
            let hex = Array("0123456789abcdef".utf8)
            output += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0f)]]
        }
    }

    // MARK: Frames

    /// Opens an object or array at the current position.
    func open(object: Bool) -> Int {
        output.append(object ? UInt8(ascii: "{") : UInt8(ascii: "["))
        frames.append(Frame(isObject: object))
        return frames.count - 1
    }

    /// Closes every frame above `depth` (their values are complete).
    func close(downTo depth: Int) {
        while frames.count > depth {
            let frame = frames.removeLast()
            if frame.isObject {
                if sortedKeys && frame.count > 1 { sortMembers(frame) }
                output.append(UInt8(ascii: "}"))
            } else {
                output.append(UInt8(ascii: "]"))
            }
            if !frames.isEmpty, frames[frames.count - 1].isObject { finishMember() }
        }
    }

    /// Starts the next element of frame `index` (closing anything nested deeper that is still open); for objects,
    /// writes the key.
    func beginElement(in index: Int, key: String?) {
        close(downTo: index + 1)
        if frames[index].count > 0 { output.append(UInt8(ascii: ",")) }
        frames[index].count += 1
        if let key {
            frames[index].memberStart = output.count
            writeString(key)
            output.append(UInt8(ascii: ":"))
            if sortedKeys { frames[index].members.append((key, output.count..<output.count)) }
        }
    }

    /// Records where the current member of the innermost object ends.
    func finishMember() {
        let index = frames.count - 1
        guard sortedKeys, let last = frames[index].members.indices.last else { return }
        frames[index].members[last].range = frames[index].memberStart..<output.count
    }

    /// Rewrites the members of a just-finished object in key order.
    private func sortMembers(_ frame: Frame) {
        let precedes = { (a: String, b: String) in a.utf8.lexicographicallyPrecedes(b.utf8) }
        let keys = frame.members.map(\.key)
        guard !zip(keys, keys.dropFirst()).allSatisfy(precedes) else { return }
        guard let first = frame.members.first?.range.lowerBound, let last = frame.members.last?.range.upperBound
        else { return }
        let sorted = frame.members.sorted { precedes($0.key, $1.key) }
        var rewritten: [UInt8] = []
        rewritten.reserveCapacity(last - first)
        for (position, member) in sorted.enumerated() {
            if position > 0 { rewritten.append(UInt8(ascii: ",")) }
            rewritten += output[member.range]
        }
        output.replaceSubrange(first..<last, with: rewritten)
    }

    // MARK: Encoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedStream<Key>(stream: self, index: open(object: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedStream(stream: self, index: open(object: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleValueStream(stream: self)
    }
}

/// Members of one JSON object. Each `encode` finishes its member before the next begins.
private struct KeyedStream<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let stream: JSONStream
    let index: Int
    var codingPath: [any CodingKey] { stream.codingPath }

    func encodeNil(forKey key: Key) throws {
        stream.beginElement(in: index, key: key.stringValue)
        stream.writeNull()
        stream.finishMember()
    }

    func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        stream.beginElement(in: index, key: key.stringValue)
        try stream.encodeValue(value)
        stream.finishMember()
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey>
    {
        stream.beginElement(in: index, key: key.stringValue)
        return KeyedEncodingContainer(KeyedStream<NestedKey>(stream: stream, index: stream.open(object: true)))
    }

    func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        stream.beginElement(in: index, key: key.stringValue)
        return UnkeyedStream(stream: stream, index: stream.open(object: false))
    }

    func superEncoder() -> any Encoder {
        stream.beginElement(in: index, key: "super")
        return stream
    }

    func superEncoder(forKey key: Key) -> any Encoder {
        stream.beginElement(in: index, key: key.stringValue)
        return stream
    }
}

/// Elements of one JSON array.
private struct UnkeyedStream: UnkeyedEncodingContainer {
    let stream: JSONStream
    let index: Int
    var codingPath: [any CodingKey] { stream.codingPath }
    var count: Int { stream.frames.indices.contains(index) ? stream.frames[index].count : 0 }

    mutating func encodeNil() throws {
        stream.beginElement(in: index, key: nil)
        stream.writeNull()
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        stream.beginElement(in: index, key: nil)
        try stream.encodeValue(value)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type)
        -> KeyedEncodingContainer<NestedKey>
    {
        stream.beginElement(in: index, key: nil)
        return KeyedEncodingContainer(KeyedStream<NestedKey>(stream: stream, index: stream.open(object: true)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        stream.beginElement(in: index, key: nil)
        return UnkeyedStream(stream: stream, index: stream.open(object: false))
    }

    mutating func superEncoder() -> any Encoder {
        stream.beginElement(in: index, key: nil)
        return stream
    }
}

/// One value in place.
private struct SingleValueStream: SingleValueEncodingContainer {
    let stream: JSONStream
    var codingPath: [any CodingKey] { stream.codingPath }

    func encodeNil() throws { stream.writeNull() }

    func encode<T: Encodable>(_ value: T) throws { try stream.encodeValue(value) }
}
