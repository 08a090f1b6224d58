/// The tokens of JSON text (RFC 8259) read strictly, one at a time, for the readers that must see JSON as it is
/// written rather than as Foundation decodes it: a policy's values with their numbers exactly as written and
/// duplicate members refused (`PolicyJSONReader`), and a PCS answer's signed item cut out byte for byte
/// (`SignedJSONItem`). Whitespace, literals, numbers and strings (escapes resolved, surrogate pairs joined, control
/// characters refused); the readers build objects and arrays on top. Every failure says what and at which byte.
public struct JSONLexer: Sendable {
    /// What is wrong, and at which byte of the text.
    public struct Failure: Error, Sendable {
        public let problem: String
        public let offset: Int

        public init(problem: String, offset: Int) {
            self.problem = problem
            self.offset = offset
        }
    }

    public let bytes: [UInt8]
    /// The next byte to read.
    public var offset = 0

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The next byte, or nil at the end of the text.
    public var peek: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    public var isAtEnd: Bool { offset == bytes.count }

    public func failure(_ problem: String) -> Failure {
        Failure(problem: problem, offset: offset)
    }

    /// Steps over spaces, tabs and line ends.
    public mutating func skipWhitespace() {
        while let byte = peek, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { offset += 1 }
    }

    /// Steps over `byte`, which must come next.
    public mutating func expect(_ byte: UInt8) throws(Failure) {
        guard peek == byte else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
        offset += 1
    }

    /// Steps over `word` (`true`, `false`, `null`), which must come next.
    public mutating func literal(_ word: String) throws(Failure) {
        guard bytes[offset...].starts(with: word.utf8) else { throw failure("expected \(word)") }
        offset += word.utf8.count
    }

    /// A number as RFC 8259 §6 writes it, `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`: its text, and
    /// whether it has neither fraction nor exponent.
    public mutating func number() throws(Failure) -> (text: String, isInteger: Bool) {
        let start = offset
        if peek == UInt8(ascii: "-") { offset += 1 }
        if peek == UInt8(ascii: "0") {
            offset += 1
        } else {
            try digits()
        }
        var isInteger = true
        if peek == UInt8(ascii: ".") {
            offset += 1
            isInteger = false
            try digits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            offset += 1
            isInteger = false
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { offset += 1 }
            try digits()
        }
        return (String(decoding: bytes[start..<offset], as: UTF8.self), isInteger)
    }

    private mutating func digits() throws(Failure) {
        guard let first = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
            throw failure("expected a digit")
        }
        while let byte = peek, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { offset += 1 }
    }

    /// A string (at its opening quote), decoded: escapes resolved, surrogate pairs joined. The text's bytes between
    /// escapes are taken as UTF-8 (the readers take text that is).
    public mutating func string() throws(Failure) -> String {
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
                guard bytes[offset...].starts(with: #"\u"#.utf8) else {
                    throw failure("a high surrogate is not followed by a low one")
                }
                offset += 2
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

    /// The four hex digits of a `\u` escape.
    private mutating func hexUnit() throws(Failure) -> UInt32 {
        var unit: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = peek, byte < 0x80, let digit = Character(Unicode.Scalar(byte)).hexDigitValue else {
                throw failure("a \\u escape without four hex digits")
            }
            unit = unit << 4 | UInt32(digit)
            offset += 1
        }
        return unit
    }
}
