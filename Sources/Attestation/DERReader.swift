/// Reads DER (X.690 distinguished encoding) one element at a time, strictly: single-byte tags, definite lengths in
/// their shortest form, no element running past what holds it. For the vendor extensions OpenSSL leaves opaque (Intel's
/// SGX extensions of a PCK certificate); every refusal names `subject` and what was being read.
struct DERReader {
    /// One element: its tag byte and its content.
    struct Element {
        let tag: UInt8
        let content: ArraySlice<UInt8>
    }

    static let integer: UInt8 = 0x02
    static let octetString: UInt8 = 0x04
    static let objectIdentifier: UInt8 = 0x06
    static let enumerated: UInt8 = 0x0A
    static let boolean: UInt8 = 0x01
    static let sequence: UInt8 = 0x30

    private let bytes: ArraySlice<UInt8>
    private var offset: Int
    /// What is being read, as refusals name it.
    let subject: String

    init(_ bytes: ArraySlice<UInt8>, subject: String) {
        self.bytes = bytes
        offset = bytes.startIndex
        self.subject = subject
    }

    var isAtEnd: Bool { offset == bytes.endIndex }

    /// The next element, which must have tag `tag`.
    mutating func read(_ tag: UInt8, _ what: String) throws(AttestationError) -> ArraySlice<UInt8> {
        let element = try next(what)
        guard element.tag == tag else {
            throw refusal("\(what) has tag 0x\(String(element.tag, radix: 16)), not 0x\(String(tag, radix: 16))")
        }
        return element.content
    }

    /// The next element, whatever its tag.
    mutating func next(_ what: String) throws(AttestationError) -> Element {
        guard offset < bytes.endIndex else { throw refusal("\(what) is missing: the encoding ends before it") }
        let tag = bytes[offset]
        guard tag & 0x1F != 0x1F else { throw refusal("\(what) has a multi-byte tag") }
        guard offset + 1 < bytes.endIndex else { throw refusal("\(what) is cut off after its tag") }
        var length = Int(bytes[offset + 1])
        var start = offset + 2
        if length & 0x80 != 0 {
            let count = length & 0x7F
            guard (1...4).contains(count), start + count <= bytes.endIndex else {
                throw refusal("\(what) has an unreadable length")
            }
            length = bytes[start..<(start + count)].reduce(0) { $0 << 8 | Int($1) }
            guard bytes[start] != 0, length >= 0x80 else {
                throw refusal("\(what) has a length not in its shortest form")
            }
            start += count
        }
        guard length <= bytes.endIndex - start else {
            throw refusal("\(what) states \(length) bytes where \(bytes.endIndex - start) remain")
        }
        offset = start + length
        return Element(tag: tag, content: bytes[start..<(start + length)])
    }

    /// The next element as a non-negative INTEGER (or ENUMERATED, with `tag`) of at most `maximum`.
    mutating func unsigned(_ what: String, tag: UInt8 = integer, maximum: Int) throws(AttestationError) -> Int {
        let content = try read(tag, what)
        guard let first = content.first, first & 0x80 == 0,
            content.count == 1 || !(first == 0 && content[content.startIndex + 1] & 0x80 == 0), content.count <= 8
        else { throw refusal("\(what) is not a non-negative integer in its shortest form") }
        let value = content.reduce(0) { $0 << 8 | Int($1) }
        guard value <= maximum else { throw refusal("\(what) is \(value), above \(maximum)") }
        return value
    }

    /// The next element as a BOOLEAN: one byte, 0x00 or 0xFF.
    mutating func boolean(_ what: String) throws(AttestationError) -> Bool {
        let content = try read(Self.boolean, what)
        guard content.count == 1, let value = content.first, value == 0 || value == 0xFF else {
            throw refusal("\(what) is not a DER boolean")
        }
        return value == 0xFF
    }

    /// The next element as an OCTET STRING of exactly `count` bytes.
    mutating func octets(_ what: String, count: Int) throws(AttestationError) -> [UInt8] {
        let content = try read(Self.octetString, what)
        guard content.count == count else { throw refusal("\(what) is \(content.count) bytes, not \(count)") }
        return Array(content)
    }

    /// The next element as an OBJECT IDENTIFIER, in dotted decimal.
    mutating func objectIdentifier(_ what: String) throws(AttestationError) -> String {
        let content = try read(Self.objectIdentifier, what)
        guard !content.isEmpty, content.last.map({ $0 & 0x80 == 0 }) == true else {
            throw refusal("\(what) is not an object identifier")
        }
        var arcs: [UInt64] = []
        var value: UInt64 = 0
        var fresh = true
        for byte in content {
            guard !(fresh && byte == 0x80), value >> 56 == 0 else {
                throw refusal("\(what) is not an object identifier")
            }
            value = value << 7 | UInt64(byte & 0x7F)
            fresh = byte & 0x80 == 0
            if fresh {
                arcs.append(value)
                value = 0
            }
        }
        let head = arcs[0] >= 80 ? [2, arcs[0] - 80] : [arcs[0] / 40, arcs[0] % 40]
        return (head + arcs.dropFirst()).map(String.init).joined(separator: ".")
    }

    func refusal(_ problem: String) -> AttestationError {
        AttestationError(.malformedEvidence, "\(subject): \(problem)")
    }
}
