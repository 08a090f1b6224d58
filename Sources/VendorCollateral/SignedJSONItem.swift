import CloisterCrypto

/// The signed item of a PCS answer, `{"tcbInfo": {...}, "signature": "hex"}` or `{"enclaveIdentity": {...},
/// "signature": "hex"}`: the item's JSON exactly as served, byte for byte, and the signature (ECDSA P-256, r ‖ s).
///
/// Intel signs the bytes of the item's value as the PCS serves them, so the value is cut out of the answer, never
/// decoded and written again. The whole answer must be one JSON object (RFC 8259) whose item is an object and whose
/// signature is 64 bytes in hex; a member named twice is refused, as which of the two was signed would be a guess.
struct SignedJSONItem {
    let item: [UInt8]
    let signature: [UInt8]

    /// Reads `body`, the answer to `url`, whose item is the member `name`.
    init(_ body: [UInt8], member name: String, url: String) throws(PCSError) {
        func refusal(_ problem: String) -> PCSError {
            PCSError(.badResponse, "GET \(url): the body \(problem)")
        }
        guard String(validating: body, as: UTF8.self) != nil else { throw refusal("is not UTF-8 text") }
        var scanner = JSONScanner(body)
        let members: [String: Range<Int>]
        do throws(JSONScanner.Failure) {
            members = try scanner.objectMembers()
        } catch {
            throw refusal("is not a JSON object: \(error.problem) at byte \(error.offset)")
        }
        guard let item = members[name], body[item.lowerBound] == UInt8(ascii: "{") else {
            throw refusal("has no member \"\(name)\" holding an object")
        }
        guard let signature = members["signature"],
            body[signature.lowerBound] == UInt8(ascii: "\""),
            let bytes = hexDecoded(
                String(decoding: body[(signature.lowerBound + 1)..<(signature.upperBound - 1)], as: UTF8.self)),
            bytes.count == 64
        else {
            throw refusal("has no member \"signature\" holding a 64-byte ECDSA P-256 signature (r ‖ s) in hex")
        }
        self.item = Array(body[item])
        self.signature = bytes
    }
}

/// Checks JSON text (RFC 8259) strictly and finds where each member of its top-level object lies, without building
/// any value. Nesting is limited, so hostile input cannot exhaust the stack.
struct JSONScanner {
    struct Failure: Error {
        let problem: String
        let offset: Int
    }

    static let maximumDepth = 64

    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The members of the text, which must be one object: each name (decoded) with the byte range of its value.
    mutating func objectMembers() throws(Failure) -> [String: Range<Int>] {
        skipWhitespace()
        guard peek == UInt8(ascii: "{") else { throw failure("expected an object") }
        var members: [String: Range<Int>] = [:]
        for (name, range) in try object(depth: 1) {
            guard members[name] == nil else {
                throw Failure(problem: "member \"\(name)\" appears twice", offset: range.lowerBound)
            }
            members[name] = range
        }
        skipWhitespace()
        guard offset == bytes.count else { throw failure("text follows the object") }
        return members
    }

    private var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    private func failure(_ problem: String) -> Failure {
        Failure(problem: problem, offset: offset)
    }

    private mutating func expect(_ byte: UInt8) throws(Failure) {
        guard peek == byte else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
        offset += 1
    }

    private mutating func skipWhitespace() {
        while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { offset += 1 }
    }

    /// Steps over one value.
    private mutating func value(depth: Int) throws(Failure) {
        guard depth <= Self.maximumDepth else { throw failure("nested deeper than \(Self.maximumDepth) levels") }
        guard let byte = peek else { throw failure("expected a value") }
        switch byte {
        case UInt8(ascii: "{"):
            _ = try object(depth: depth)
        case UInt8(ascii: "["):
            offset += 1
            skipWhitespace()
            if peek == UInt8(ascii: "]") {
                offset += 1
                return
            }
            while true {
                skipWhitespace()
                try value(depth: depth + 1)
                skipWhitespace()
                guard peek == UInt8(ascii: ",") else { return try expect(UInt8(ascii: "]")) }
                offset += 1
            }
        case UInt8(ascii: "\""):
            _ = try string()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
        default: throw failure("expected a value")
        }
    }

    /// Reads an object (at its opening brace): each member's name, decoded, with the byte range of its value.
    private mutating func object(depth: Int) throws(Failure) -> [(name: String, value: Range<Int>)] {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        var members: [(name: String, value: Range<Int>)] = []
        if peek == UInt8(ascii: "}") {
            offset += 1
            return members
        }
        while true {
            skipWhitespace()
            let name = try string()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            let start = offset
            try value(depth: depth + 1)
            members.append((name, start..<offset))
            skipWhitespace()
            guard peek == UInt8(ascii: ",") else {
                try expect(UInt8(ascii: "}"))
                return members
            }
            offset += 1
        }
    }

    private mutating func literal(_ word: String) throws(Failure) {
        let expected = Array(word.utf8)
        guard bytes.count - offset >= expected.count, Array(bytes[offset..<(offset + expected.count)]) == expected
        else { throw failure("expected \(word)") }
        offset += expected.count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func number() throws(Failure) {
        if peek == UInt8(ascii: "-") { offset += 1 }
        if peek == UInt8(ascii: "0") {
            offset += 1
        } else {
            try digits()
        }
        if peek == UInt8(ascii: ".") {
            offset += 1
            try digits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            offset += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { offset += 1 }
            try digits()
        }
    }

    private mutating func digits() throws(Failure) {
        guard let first = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw failure("expected a digit")
        }
        while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { offset += 1 }
    }

    /// Reads a string and returns it decoded (escapes resolved, surrogate pairs joined).
    private mutating func string() throws(Failure) -> String {
        try expect(UInt8(ascii: "\""))
        var scalars = String.UnicodeScalarView()
        var run = offset
        func flush(_ end: Int) {
            scalars.append(contentsOf: String(decoding: bytes[run..<end], as: UTF8.self).unicodeScalars)
        }
        while true {
            guard let byte = peek else { throw failure("a string is not closed") }
            switch byte {
            case UInt8(ascii: "\""):
                flush(offset)
                offset += 1
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush(offset)
                offset += 1
                scalars.append(try escape())
                run = offset
            case 0..<0x20:
                throw failure("a string holds control character 0x\(String(byte, radix: 16)) unescaped")
            default:
                offset += 1
            }
        }
    }

    /// The character an escape (after its backslash) stands for.
    private mutating func escape() throws(Failure) -> Unicode.Scalar {
        guard let byte = peek else { throw failure("an escape is cut off") }
        offset += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): return Unicode.Scalar(byte)
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "u"):
            let unit = try hexUnit()
            if (0xD800..<0xDC00).contains(unit) {
                guard peek == UInt8(ascii: "\\") else { throw failure("a high surrogate is not followed by a low one") }
                offset += 1
                guard peek == UInt8(ascii: "u") else { throw failure("a high surrogate is not followed by a low one") }
                offset += 1
                let low = try hexUnit()
                guard (0xDC00..<0xE000).contains(low),
                    let scalar = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                else { throw failure("a high surrogate is not followed by a low one") }
                return scalar
            }
            guard let scalar = Unicode.Scalar(unit) else { throw failure("a lone low surrogate") }
            return scalar
        default:
            throw failure("an unknown escape '\\\(Character(Unicode.Scalar(byte)))'")
        }
    }

    private mutating func hexUnit() throws(Failure) -> UInt32 {
        guard bytes.count - offset >= 4,
            let value = UInt32(String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self), radix: 16),
            bytes[offset..<(offset + 4)].allSatisfy({ $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: "-") })
        else { throw failure("a \\u escape without four hex digits") }
        offset += 4
        return value
    }
}
