/// A TOML 1.0 document's values as Cloister reads them.
public indirect enum TOMLValue: Sendable, Hashable {
    case string(String)
    case integer(Int)
    case float(Double)
    case bool(Bool)
    /// An offset date-time, local date-time, local date or local time, as written (checked, not interpreted).
    case dateTime(String)
    case array([TOMLValue])
    case table(TOMLTable)
}

extension TOMLValue {
    public var string: String? { if case .string(let text) = self { text } else { nil } }
    public var int: Int? { if case .integer(let integer) = self { integer } else { nil } }
    public var bool: Bool? { if case .bool(let flag) = self { flag } else { nil } }
    public var array: [TOMLValue]? { if case .array(let elements) = self { elements } else { nil } }
    public var table: TOMLTable? { if case .table(let table) = self { table } else { nil } }

    /// What the value is, for errors: "a string", "an integer", "a date or time"...
    public var kind: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a floating-point number"
        case .bool: "a boolean"
        case .dateTime: "a date or time"
        case .array: "an array"
        case .table: "a table"
        }
    }
}

/// A TOML table: its keys in the order they were defined, and their values.
public struct TOMLTable: Sendable, Hashable {
    public private(set) var keys: [String] = []
    private var values: [String: TOMLValue] = [:]

    public init() {}

    public subscript(key: String) -> TOMLValue? { values[key] }

    mutating func insert(_ value: TOMLValue, at key: String) {
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }
}

/// Why text is not TOML: the problem, and where (line and column from 1, the column in bytes).
public struct TOMLSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let problem: String

    public var description: String { "line \(line), column \(column): \(problem)" }
}

/// Reads TOML 1.0 (https://toml.io/en/v1.0.0) into `TOMLTable`, in Swift, with the rules on defining tables that
/// Python's `tomllib` applies: a table is declared once, by a header or by dotted keys, never both; inline tables and
/// arrays are closed once written; `[[name]]` appends a table to an array of tables.
public struct TOMLReader {
    private let bytes: [UInt8]
    private var index = 0
    private var line = 1
    private var lineStart = 0
    /// The document as built so far, and what each key path may still become.
    private var root = Node.table(TableNode())
    private var flags = FlagNode()
    private var pending: [[String]] = []
    /// A value inside this many arrays and inline tables is refused; inside one fewer, it is read.
    public static let maximumDepth = 128

    /// Reads `text`; throws naming the first problem and where it is.
    public static func read(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        // As tomllib does: CRLF is a newline everywhere, so it is read as LF; a CR alone is refused where it stands.
        var reader = TOMLReader(bytes: Array(text.utf8).replacingCRLF())
        return try reader.document()
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    // MARK: The document

    private mutating func document() throws(TOMLSyntaxError) -> TOMLTable {
        var header: [String] = []
        while true {
            skipWhitespace()
            guard let byte = peek() else { break }
            switch byte {
            case UInt8(ascii: "#"), UInt8(ascii: "\n"):
                break
            case UInt8(ascii: "["):
                header = try tableHeader()
            default:
                try keyValue(in: header)
            }
            try endOfLine()
        }
        return root.value.table ?? TOMLTable()
    }

    /// After a key-value pair or a header: whitespace, a comment, then a newline or the end.
    private mutating func endOfLine() throws(TOMLSyntaxError) {
        skipWhitespace()
        if peek() == UInt8(ascii: "#") { try comment() }
        guard let byte = peek() else { return }
        if byte == UInt8(ascii: "\n") {
            newline()
        } else {
            throw problem("expected the end of the line, found \(describe(byte))")
        }
    }

    private mutating func comment() throws(TOMLSyntaxError) {
        index += 1
        while let byte = peek(), byte != UInt8(ascii: "\n") {
            if isControl(byte) { throw problem("a control character (\(describe(byte))) in a comment") }
            skipCharacter()
        }
    }

    private mutating func tableHeader() throws(TOMLSyntaxError) -> [String] {
        index += 1
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { index += 1 }
        skipWhitespace()
        let key = try dottedKey()
        guard peek() == UInt8(ascii: "]"), !isArray || peek(1) == UInt8(ascii: "]") else {
            throw problem("a table header ends with \(isArray ? "]]" : "]")")
        }
        index += isArray ? 2 : 1
        finalizePending()
        if isArray {
            if flags.has(key, .frozen) { throw problem("\(name(key)) cannot be extended: it was written whole") }
            flags.unsetAll(key)
            flags.set(key, .explicit, recursive: false)
            try appendTable(at: key)
        } else {
            if flags.has(key, .explicit) || flags.has(key, .frozen) {
                throw problem("the table \(name(key)) is declared twice")
            }
            flags.set(key, .explicit, recursive: false)
            _ = try nest(at: key)
        }
        return key
    }

    private mutating func keyValue(in header: [String]) throws(TOMLSyntaxError) {
        let start = (line, index - lineStart + 1)
        let key = try dottedKey()
        guard peek() == UInt8(ascii: "=") else { throw problem("expected '=' after the key \(name(key))") }
        index += 1
        skipWhitespace()
        let value = try self.value(depth: 0)
        let parent = header + key.dropLast()
        for count in 1..<key.count {
            let path = header + key.prefix(count)
            if flags.has(path, .explicit) {
                throw TOMLSyntaxError(
                    line: start.0, column: start.1, problem: "the table \(name(path)) cannot be extended here")
            }
            pending.append(path)
        }
        if flags.has(parent, .frozen) {
            throw TOMLSyntaxError(
                line: start.0, column: start.1, problem: "\(name(parent)) cannot be extended: it was written whole")
        }
        let stem = key[key.count - 1]
        let table = try nest(at: parent)
        if table.contains(stem) {
            throw TOMLSyntaxError(line: start.0, column: start.1, problem: "\(name(header + key)) is defined twice")
        }
        switch value {
        case .array, .table: flags.set(header + key, .frozen, recursive: true)
        default: break
        }
        table.insert(.value(value), at: stem)
    }

    // MARK: Keys

    private mutating func dottedKey() throws(TOMLSyntaxError) -> [String] {
        var parts: [String] = []
        while true {
            parts.append(try simpleKey())
            skipWhitespace()
            guard peek() == UInt8(ascii: ".") else { return parts }
            index += 1
            skipWhitespace()
        }
    }

    private mutating func simpleKey() throws(TOMLSyntaxError) -> String {
        switch peek() {
        case UInt8(ascii: "\""):
            return try basicString(multiline: false)
        case UInt8(ascii: "'"):
            return try literalString(multiline: false)
        default:
            let start = index
            while let byte = peek(), isBareKeyByte(byte) { index += 1 }
            guard index > start else {
                throw problem(peek().map { "expected a key, found \(describe($0))" } ?? "expected a key, found the end")
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
    }

    // MARK: Values

    private mutating func value(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
        guard depth < Self.maximumDepth else { throw problem("values nest deeper than \(Self.maximumDepth)") }
        guard let byte = peek() else { throw problem("expected a value, found the end") }
        switch byte {
        case UInt8(ascii: "\""):
            let multiline = peek(1) == byte && peek(2) == byte
            return .string(try basicString(multiline: multiline))
        case UInt8(ascii: "'"):
            let multiline = peek(1) == byte && peek(2) == byte
            return .string(try literalString(multiline: multiline))
        case UInt8(ascii: "["):
            return .array(try array(depth: depth))
        case UInt8(ascii: "{"):
            return .table(try inlineTable(depth: depth))
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            if matches("true") {
                index += 4
                return .bool(true)
            }
            if matches("false") {
                index += 5
                return .bool(false)
            }
            throw problem("expected a value, found \(describe(byte))")
        default:
            return try scalar()
        }
    }

    private mutating func array(depth: Int) throws(TOMLSyntaxError) -> [TOMLValue] {
        index += 1
        var elements: [TOMLValue] = []
        while true {
            try skipBlank()
            if peek() == UInt8(ascii: "]") {
                index += 1
                return elements
            }
            elements.append(try value(depth: depth + 1))
            try skipBlank()
            switch peek() {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"):
                index += 1
                return elements
            default: throw problem("expected ',' or ']' in an array")
            }
        }
    }

    private mutating func inlineTable(depth: Int) throws(TOMLSyntaxError) -> TOMLTable {
        index += 1
        let table = TableNode()
        var inner = FlagNode()
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return table.value
        }
        while true {
            let key = try dottedKey()
            guard peek() == UInt8(ascii: "=") else { throw problem("expected '=' after the key \(name(key))") }
            index += 1
            skipWhitespace()
            let value = try self.value(depth: depth + 1)
            var nest = table
            for count in 1..<key.count {
                if inner.has(Array(key.prefix(count)), .frozen) {
                    throw problem("\(name(Array(key.prefix(count)))) cannot be extended: it was written whole")
                }
                switch nest.child(key[count - 1]) {
                case nil:
                    let created = TableNode()
                    nest.insert(.table(created), at: key[count - 1])
                    nest = created
                case .table(let existing): nest = existing
                default: throw problem("\(name(Array(key.prefix(count)))) is not a table")
                }
            }
            if nest.contains(key[key.count - 1]) { throw problem("\(name(key)) is defined twice") }
            switch value {
            case .array, .table: inner.set(key, .frozen, recursive: true)
            default: break
            }
            nest.insert(.value(value), at: key[key.count - 1])
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                index += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                index += 1
                return table.value
            default: throw problem("expected ',' or '}' in an inline table")
            }
        }
    }

    /// An integer, a float, or a date and time.
    private mutating func scalar() throws(TOMLSyntaxError) -> TOMLValue {
        let start = index
        let startColumn = index - lineStart + 1
        // A local time or a date-time's space separator: take what a date or time can hold.
        while let byte = peek(), isScalarByte(byte) { index += 1 }
        if peek() == UInt8(ascii: " "), let next = peek(1), isDigit(next), isDate(bytes[start..<index]) {
            index += 1
            while let byte = peek(), isScalarByte(byte) { index += 1 }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard !text.isEmpty else {
            throw problem(peek().map { "expected a value, found \(describe($0))" } ?? "expected a value, found the end")
        }
        if let value = TOMLScalar.read(text) { return value }
        throw TOMLSyntaxError(line: line, column: startColumn, problem: "'\(text.prefix(40))' is not a TOML value")
    }

    // MARK: Strings

    private mutating func basicString(multiline: Bool) throws(TOMLSyntaxError) -> String {
        index += multiline ? 3 : 1
        if multiline { skipNewline() }
        var text: [UInt8] = []
        while true {
            guard let byte = peek() else { throw problem("a string is not closed") }
            switch byte {
            case UInt8(ascii: "\""):
                if !multiline {
                    index += 1
                    return String(decoding: text, as: UTF8.self)
                }
                if peek(1) == byte, peek(2) == byte {
                    // Up to two quotes may end the content just before the closing three.
                    var run = 3
                    while run < 5, peek(run) == byte { run += 1 }
                    text += [UInt8](repeating: byte, count: run - 3)
                    index += run
                    return String(decoding: text, as: UTF8.self)
                }
                text.append(byte)
                index += 1
            case UInt8(ascii: "\\"):
                index += 1
                if multiline, let next = lineEndingBackslash() {
                    index = next
                    continue
                }
                try escape(into: &text)
            case UInt8(ascii: "\n") where multiline:
                text.append(byte)
                newline()
            default:
                if isControl(byte) { throw problem("a control character (\(describe(byte))) in a string") }
                let start = index
                skipCharacter()
                text += bytes[start..<index]
            }
        }
    }

    private mutating func literalString(multiline: Bool) throws(TOMLSyntaxError) -> String {
        index += multiline ? 3 : 1
        if multiline { skipNewline() }
        let start = index
        while true {
            guard let byte = peek() else { throw problem("a string is not closed") }
            if byte == UInt8(ascii: "'") {
                if !multiline {
                    index += 1
                    return String(decoding: bytes[start..<index - 1], as: UTF8.self)
                }
                if peek(1) == byte, peek(2) == byte {
                    var run = 3
                    while run < 5, peek(run) == byte { run += 1 }
                    let end = index + run - 3
                    index += run
                    return String(decoding: bytes[start..<end], as: UTF8.self)
                }
                index += 1
            } else if byte == UInt8(ascii: "\n") && multiline {
                newline()
            } else {
                if isControl(byte) { throw problem("a control character (\(describe(byte))) in a string") }
                skipCharacter()
            }
        }
    }

    /// After a backslash in a multi-line basic string: if only whitespace follows to the end of the line, the index
    /// past it and every blank that follows (the line-ending backslash), else nil.
    private mutating func lineEndingBackslash() -> Int? {
        var probe = index
        while probe < bytes.count, bytes[probe] == UInt8(ascii: " ") || bytes[probe] == UInt8(ascii: "\t") {
            probe += 1
        }
        guard probe < bytes.count, bytes[probe] == UInt8(ascii: "\n") else { return nil }
        while probe < bytes.count {
            let byte = bytes[probe]
            if byte == UInt8(ascii: "\n") {
                probe += 1
                line += 1
                lineStart = probe
            } else if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                probe += 1
            } else {
                break
            }
        }
        return probe
    }

    private mutating func escape(into text: inout [UInt8]) throws(TOMLSyntaxError) {
        guard let byte = peek() else { throw problem("a string is not closed") }
        index += 1
        let simple: [UInt8: UInt8] = [
            UInt8(ascii: "b"): 0x08, UInt8(ascii: "t"): 0x09, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "f"): 0x0C,
            UInt8(ascii: "r"): 0x0D, UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C,
        ]
        if let replacement = simple[byte] {
            text.append(replacement)
            return
        }
        let digits = byte == UInt8(ascii: "u") ? 4 : byte == UInt8(ascii: "U") ? 8 : 0
        guard digits > 0 else { throw problem("\\\(describe(byte)) is not an escape") }
        guard index + digits <= bytes.count,
            let code = UInt32(String(decoding: bytes[index..<index + digits], as: UTF8.self), radix: 16),
            bytes[index..<index + digits].allSatisfy(isHexDigit), let scalar = Unicode.Scalar(code)
        else { throw problem("\\\(describe(byte)) takes \(digits) hex digits of a Unicode scalar value") }
        index += digits
        text += Array(String(Character(scalar)).utf8)
    }

    // MARK: Building the document

    /// The table at `path`, created (implicitly) where missing; through an array of tables, its last table.
    private mutating func nest(at path: [String]) throws(TOMLSyntaxError) -> TableNode {
        guard case .table(var table) = root else { fatalError("the root is a table") }
        for (position, key) in path.enumerated() {
            switch table.child(key) {
            case nil:
                let created = TableNode()
                table.insert(.table(created), at: key)
                table = created
            case .table(let existing):
                table = existing
            case .tables(let list):
                guard let last = list.tables.last else { fatalError("an array of tables holds a table") }
                table = last
            case .value(let value):
                // The flags refuse writing into an inline table before this walk; refused here too, never copied.
                guard case .table = value else {
                    throw problem("\(name(Array(path.prefix(position + 1)))) is not a table")
                }
                throw problem("\(name(Array(path.prefix(position + 1)))) cannot be extended: it was written whole")
            }
        }
        return table
    }

    private mutating func appendTable(at path: [String]) throws(TOMLSyntaxError) {
        let parent = try nest(at: Array(path.dropLast()))
        let key = path[path.count - 1]
        switch parent.child(key) {
        case nil:
            let list = TableList()
            list.tables.append(TableNode())
            parent.insert(.tables(list), at: key)
        case .tables(let list):
            list.tables.append(TableNode())
        default:
            throw problem("\(name(path)) is not an array of tables")
        }
    }

    private mutating func finalizePending() {
        for path in pending { flags.set(path, .explicit, recursive: false) }
        pending = []
    }

    // MARK: Scanning

    private func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    private func matches(_ word: String) -> Bool {
        let word = Array(word.utf8)
        return index + word.count <= bytes.count && Array(bytes[index..<index + word.count]) == word
    }

    private mutating func skipWhitespace() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { index += 1 }
    }

    /// Whitespace, newlines and comments (inside an array).
    private mutating func skipBlank() throws(TOMLSyntaxError) {
        while true {
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: "\n"): newline()
            case UInt8(ascii: "#"): try comment()
            default: return
            }
        }
    }

    private mutating func skipNewline() {
        if peek() == UInt8(ascii: "\n") { newline() }
    }

    /// Past the newline at `index`.
    private mutating func newline() {
        index += 1
        line += 1
        lineStart = index
    }

    /// Past one UTF-8 character (the text came from a `String`, so it is valid).
    private mutating func skipCharacter() {
        let byte = bytes[index]
        index += byte < 0x80 ? 1 : byte < 0xE0 ? 2 : byte < 0xF0 ? 3 : 4
    }

    private func problem(_ text: String) -> TOMLSyntaxError {
        TOMLSyntaxError(line: line, column: index - lineStart + 1, problem: text)
    }

    private func name(_ path: [String]) -> String {
        "'" + path.joined(separator: ".") + "'"
    }

    private func describe(_ byte: UInt8) -> String {
        if byte == 0 { return "NUL" }
        if byte == 0x0A { return "a newline" }
        return (0x21..<0x7F).contains(byte)
            ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16, uppercase: true))"
    }

    private func isDate(_ text: ArraySlice<UInt8>) -> Bool {
        text.count == 10 && text[text.startIndex + 4] == UInt8(ascii: "-")
            && text[text.startIndex + 7] == UInt8(ascii: "-")
    }
}

private func isControl(_ byte: UInt8) -> Bool { (byte < 0x20 && byte != 0x09) || byte == 0x7F }
private func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }
private func isHexDigit(_ byte: UInt8) -> Bool {
    isDigit(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
}
private func isBareKeyByte(_ byte: UInt8) -> Bool {
    isDigit(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == UInt8(ascii: "_")
        || byte == UInt8(ascii: "-")
}
/// What an integer, float, date or time is written with.
private func isScalarByte(_ byte: UInt8) -> Bool {
    isBareKeyByte(byte) || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
}

extension Array where Element == UInt8 {
    fileprivate func replacingCRLF() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var index = 0
        while index < count {
            if self[index] == 0x0D, index + 1 < count, self[index + 1] == 0x0A {
                index += 1
                continue
            }
            out.append(self[index])
            index += 1
        }
        return out
    }
}

// MARK: The mutable tree built while reading

private final class TableNode {
    private(set) var keys: [String] = []
    private var children: [String: Node] = [:]

    init() {}

    func child(_ key: String) -> Node? { children[key] }
    func contains(_ key: String) -> Bool { children[key] != nil }

    func insert(_ node: Node, at key: String) {
        if children.updateValue(node, forKey: key) == nil { keys.append(key) }
    }

    var value: TOMLTable {
        var table = TOMLTable()
        for key in keys { table.insert(children[key]!.value, at: key) }
        return table
    }
}

private final class TableList {
    var tables: [TableNode] = []
}

private enum Node {
    case table(TableNode)
    case tables(TableList)
    case value(TOMLValue)

    var value: TOMLValue {
        switch self {
        case .table(let table): .table(table.value)
        case .tables(let list): .array(list.tables.map { .table($0.value) })
        case .value(let value): value
        }
    }
}

/// What a key path may still become, as tomllib's `Flags` records it: declared explicitly (by a header, or by dotted
/// keys once their section ends), or frozen (written whole: an inline table or an array, and all below it).
private struct FlagNode {
    enum Flag { case explicit, frozen }

    var flags: Set<Flag> = []
    var recursiveFlags: Set<Flag> = []
    var nested: [String: FlagNode] = [:]

    func has(_ path: [String], _ flag: Flag) -> Bool {
        guard let last = path.last else { return false }
        var node = self
        for key in path.dropLast() {
            guard let inner = node.nested[key] else { return false }
            if inner.recursiveFlags.contains(flag) { return true }
            node = inner
        }
        guard let inner = node.nested[last] else { return false }
        return inner.flags.contains(flag) || inner.recursiveFlags.contains(flag)
    }

    mutating func set(_ path: [String], _ flag: Flag, recursive: Bool) {
        guard let key = path.first else {
            if recursive { recursiveFlags.insert(flag) } else { flags.insert(flag) }
            return
        }
        nested[key, default: FlagNode()].set(Array(path.dropFirst()), flag, recursive: recursive)
    }

    mutating func unsetAll(_ path: [String]) {
        guard let key = path.first else { return }
        if path.count == 1 {
            nested[key] = nil
        } else {
            nested[key]?.unsetAll(Array(path.dropFirst()))
        }
    }
}

/// Integers, floats and dates and times, as TOML 1.0 writes them.
private enum TOMLScalar {
    static func read(_ text: String) -> TOMLValue? {
        let bytes = Array(text.utf8)
        if let value = integer(bytes) { return .integer(value) }
        if let value = float(text, bytes) { return .float(value) }
        if isDateTime(bytes) { return .dateTime(text) }
        return nil
    }

    /// Digits of `radix` with single underscores between them, none leading or trailing.
    private static func digits(_ bytes: ArraySlice<UInt8>, radix: Int) -> String? {
        guard let first = bytes.first, let last = bytes.last, first != UInt8(ascii: "_"), last != UInt8(ascii: "_")
        else { return nil }
        var out = ""
        var previousUnderscore = false
        for byte in bytes {
            if byte == UInt8(ascii: "_") {
                if previousUnderscore { return nil }
                previousUnderscore = true
                continue
            }
            previousUnderscore = false
            guard let value = Character(Unicode.Scalar(byte)).hexDigitValue, value < radix else { return nil }
            out.append(Character(Unicode.Scalar(byte)))
        }
        return out
    }

    private static func integer(_ bytes: [UInt8]) -> Int? {
        if bytes.count > 2, bytes[0] == UInt8(ascii: "0") {
            let radix: Int? =
                switch bytes[1] {
                case UInt8(ascii: "x"): 16
                case UInt8(ascii: "o"): 8
                case UInt8(ascii: "b"): 2
                default: nil
                }
            if let radix {
                guard let text = digits(bytes[2...], radix: radix) else { return nil }
                return Int(text, radix: radix)
            }
        }
        var body = bytes[...]
        var negative = false
        if let sign = body.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            body = body.dropFirst()
        }
        guard let text = digits(body, radix: 10), !(text.count > 1 && text.first == "0") else { return nil }
        return Int((negative ? "-" : "") + text)
    }

    private static func float(_ text: String, _ bytes: [UInt8]) -> Double? {
        var body = text[...]
        var sign = ""
        if let first = body.first, first == "+" || first == "-" {
            sign = first == "-" ? "-" : ""
            body = body.dropFirst()
        }
        if body == "inf" { return sign == "-" ? -.infinity : .infinity }
        if body == "nan" { return .nan }
        // integer part, then a fraction, an exponent or both.
        let exponentSplit = body.split(separator: "e", maxSplits: 1, omittingEmptySubsequences: false)
        let parts =
            exponentSplit.count == 2
            ? exponentSplit : body.split(separator: "E", maxSplits: 1, omittingEmptySubsequences: false)
        let mantissa = parts[0]
        let exponent = parts.count == 2 ? parts[1] : nil
        let fractionSplit = mantissa.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let integerText = digits(ArraySlice(fractionSplit[0].utf8), radix: 10),
            !(integerText.count > 1 && integerText.first == "0")
        else { return nil }
        var literal = sign + integerText
        if fractionSplit.count == 2 {
            guard let fraction = digits(ArraySlice(fractionSplit[1].utf8), radix: 10) else { return nil }
            literal += "." + fraction
        }
        if let exponent {
            var exponentBody = exponent[...]
            var exponentSign = ""
            if let first = exponentBody.first, first == "+" || first == "-" {
                exponentSign = String(first)
                exponentBody = exponentBody.dropFirst()
            }
            guard let exponentDigits = digits(ArraySlice(exponentBody.utf8), radix: 10) else { return nil }
            literal += "e" + exponentSign + exponentDigits
        }
        guard fractionSplit.count == 2 || exponent != nil else { return nil }
        return Double(literal)
    }

    /// An offset date-time, local date-time, local date or local time, with its fields in range.
    private static func isDateTime(_ bytes: [UInt8]) -> Bool {
        var rest = bytes[...]
        func number(_ count: Int) -> Int? {
            guard rest.count >= count, rest.prefix(count).allSatisfy(isDigit) else { return nil }
            defer { rest = rest.dropFirst(count) }
            return Int(String(decoding: rest.prefix(count), as: UTF8.self))
        }
        func expect(_ byte: UInt8) -> Bool {
            guard rest.first == byte else { return false }
            rest = rest.dropFirst()
            return true
        }
        func time() -> Bool {
            guard let hour = number(2), hour < 24, expect(UInt8(ascii: ":")), let minute = number(2), minute < 60,
                expect(UInt8(ascii: ":")), let second = number(2), second < 60
            else { return false }
            if expect(UInt8(ascii: ".")) {
                let fraction = rest.prefix(while: isDigit)
                guard !fraction.isEmpty else { return false }
                rest = rest.dropFirst(fraction.count)
            }
            return true
        }
        if bytes.count >= 3, bytes[2] == UInt8(ascii: ":") { return time() && rest.isEmpty }
        guard let year = number(4), year >= 1, expect(UInt8(ascii: "-")), let month = number(2),
            (1...12).contains(month),
            expect(UInt8(ascii: "-")), let day = number(2), day >= 1
        else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard day <= days else { return false }
        if rest.isEmpty { return true }
        guard let separator = rest.first,
            separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == UInt8(ascii: " ")
        else { return false }
        rest = rest.dropFirst()
        guard time() else { return false }
        if rest.isEmpty || expect(UInt8(ascii: "Z")) || expect(UInt8(ascii: "z")) { return rest.isEmpty }
        guard let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") else { return false }
        rest = rest.dropFirst()
        guard let hours = number(2), hours < 24, expect(UInt8(ascii: ":")), let minutes = number(2), minutes < 60
        else { return false }
        return rest.isEmpty
    }
}
