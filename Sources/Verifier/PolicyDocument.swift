import Attestation
import TOMLDocument

/// A policy document as written, TOML or JSON, read into one tree of values before any key is interpreted: both
/// formats then go through the same checked accessors (`PolicyTable`), and no library narrows a number on the way.
enum PolicyValue: Sendable {
    case string(String)
    /// An integer that fits in 64 bits.
    case integer(Int)
    /// Any other number, as written: a fraction, an exponent, or an integer beyond 64 bits.
    case number(String)
    case bool(Bool)
    case array([PolicyValue])
    case table([String: PolicyValue])
    /// A value no policy key takes (a TOML date or time, JSON `null`), by what it is.
    case other(String)

    /// What the value is, for errors.
    var kind: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .number(let text): "the number \(text)"
        case .bool: "a boolean"
        case .array: "an array"
        case .table: "a table"
        case .other(let kind): kind
        }
    }

    /// The value as written when it is a scalar (a string quoted, at most 100 characters of it), else what it is.
    var shown: String {
        switch self {
        case .string(let text): "\"\(text.prefix(100))\""
        case .integer(let integer): "\(integer)"
        case .number(let text): text
        case .bool(let flag): "\(flag)"
        case .array, .table, .other: kind
        }
    }

    /// The top-level table of `text`: JSON when its first character after blanks is '{', else TOML.
    static func document(_ text: String) throws(PolicyError) -> [String: PolicyValue] {
        if text.drop(while: \.isWhitespace).first == "{" {
            guard case .table(let entries) = try PolicyJSONReader.read(text) else {
                throw PolicyError("not valid JSON: the document is not an object")
            }
            return entries
        }
        let table: TOMLTable
        do {
            table = try TOMLDocument.parse(text)
        } catch {
            throw PolicyError("not valid TOML: \(error)")
        }
        return try entries(of: table, path: "")
    }

    private static func entries(of table: TOMLTable, path: String) throws(PolicyError) -> [String: PolicyValue] {
        var entries: [String: PolicyValue] = [:]
        for key in table.keys {
            let keyPath = PolicyTable.path(path, key)
            entries[key] = try Self(toml: table[key]!, path: keyPath)
        }
        return entries
    }

    private init(toml value: TOMLValue, path: String) throws(PolicyError) {
        switch value {
        case .table(let table):
            self = .table(try Self.entries(of: table, path: path))
        case .array(let array):
            var elements: [PolicyValue] = []
            for (index, element) in array.enumerated() {
                elements.append(try Self(toml: element, path: "\(path)[\(index)]"))
            }
            self = .array(elements)
        case .string(let text):
            self = .string(text)
        case .integer(let integer):
            self = .integer(integer)
        case .float(let number):
            self = .number("\(number)")
        case .bool(let flag):
            self = .bool(flag)
        case .dateTime:
            self = .other("a date or time")
        }
    }
}

/// One table of a policy document being read: accessors that refuse a value of the wrong type or out of range, and
/// a table that holds a key outside the ones it takes, each error naming the key by its path
/// (`products[0].product_id`).
struct PolicyTable {
    let entries: [String: PolicyValue]
    /// The table's own path ("" at the top level).
    let path: String

    /// `entries` at `path`, refusing a key outside `keys` (nil: any key, for maps such as `pcrs`).
    init(_ entries: [String: PolicyValue], path: String, keys: [String]?) throws(PolicyError) {
        self.entries = entries
        self.path = path
        guard let keys, let unknown = entries.keys.sorted().first(where: { !keys.contains($0) }) else { return }
        throw PolicyError(
            "unknown key \"\(Self.path(path, unknown))\"; \(path.isEmpty ? "a policy" : path) takes "
                + keys.sorted().joined(separator: ", "))
    }

    /// The path of `key` in the table at `path`.
    static func path(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    func path(_ key: String) -> String { Self.path(path, key) }

    private func typeError(_ key: String, expected: String, found value: PolicyValue) -> PolicyError {
        PolicyError("\"\(path(key))\" must be \(expected), not \(value.kind)")
    }

    func string(_ key: String) throws(PolicyError) -> String? {
        guard let value = entries[key] else { return nil }
        guard case .string(let text) = value else { throw typeError(key, expected: "a string", found: value) }
        return text
    }

    func bool(_ key: String) throws(PolicyError) -> Bool? {
        guard let value = entries[key] else { return nil }
        guard case .bool(let flag) = value else { throw typeError(key, expected: "true or false", found: value) }
        return flag
    }

    /// An integer converted exactly to `T` and inside `range` (the whole of `T` when nil).
    func integer<T: FixedWidthInteger>(
        _ key: String, as type: T.Type, in range: ClosedRange<T> = T.min...T.max
    ) throws(PolicyError) -> T? {
        guard let value = entries[key] else { return nil }
        let expected = "an integer from \(range.lowerBound) to \(range.upperBound)"
        switch value {
        case .integer(let integer):
            if let exact = T(exactly: integer), range.contains(exact) { return exact }
        case .number: break
        default: throw typeError(key, expected: expected, found: value)
        }
        throw PolicyError("\"\(path(key))\" must be \(expected), not \(value.shown)")
    }

    func strings(_ key: String) throws(PolicyError) -> [String]? {
        guard let value = entries[key] else { return nil }
        guard case .array(let elements) = value else {
            throw typeError(key, expected: "an array of strings", found: value)
        }
        var strings: [String] = []
        for (index, element) in elements.enumerated() {
            guard case .string(let text) = element else {
                throw typeError("\(key)[\(index)]", expected: "a string", found: element)
            }
            strings.append(text)
        }
        return strings
    }

    /// One of `Choice`'s values, by its name; any other string is refused, listing the names.
    func choice<Choice: RawRepresentable & CaseIterable>(
        _ key: String, as type: Choice.Type
    ) throws(PolicyError) -> Choice? where Choice.RawValue == String {
        guard let name = try string(key) else { return nil }
        guard let choice = Choice(rawValue: name) else {
            throw PolicyError(
                "\"\(path(key))\" is \"\(name.prefix(200))\", not one of "
                    + Choice.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return choice
    }

    /// A table (`[key]` in TOML, an object in JSON) that may hold any key.
    func table(_ key: String) throws(PolicyError) -> PolicyTable? {
        guard let value = entries[key] else { return nil }
        guard case .table(let entries) = value else { throw typeError(key, expected: "a table", found: value) }
        return try PolicyTable(entries, path: path(key), keys: nil)
    }

    /// An array of tables (`[[key]]` in TOML, an array of objects in JSON), each taking only `keys`.
    func tables(_ key: String, keys: [String]) throws(PolicyError) -> [PolicyTable]? {
        guard let value = entries[key] else { return nil }
        guard case .array(let elements) = value else {
            throw typeError(key, expected: "an array of tables", found: value)
        }
        var tables: [PolicyTable] = []
        for (index, element) in elements.enumerated() {
            guard case .table(let entries) = element else {
                throw typeError("\(key)[\(index)]", expected: "a table", found: element)
            }
            tables.append(try PolicyTable(entries, path: path("\(key)[\(index)]"), keys: keys))
        }
        return tables
    }

    func value(_ key: String) -> PolicyValue? { entries[key] }
}

/// A strict JSON (RFC 8259) reader for policy documents, on `JSONLexer`'s tokens. Unlike Foundation's, it refuses an
/// object with a duplicate member name (naming it) instead of keeping one of the values, keeps every number as written
/// so that range checks see it exactly, and bounds nesting. Errors name the line and column.
struct PolicyJSONReader {
    /// The deepest nesting of arrays and objects read (a policy needs three).
    static let maximumDepth = 16

    private var lexer: JSONLexer

    private init(_ text: String) {
        lexer = JSONLexer(Array(text.utf8))
    }

    /// The value `text` holds, refusing anything after it but blanks.
    static func read(_ text: String) throws(PolicyError) -> PolicyValue {
        var reader = PolicyJSONReader(text)
        do throws(JSONLexer.Failure) {
            let value = try reader.value(path: "", depth: 0)
            reader.lexer.skipWhitespace()
            guard reader.lexer.isAtEnd else { throw reader.lexer.failure("unexpected text after the document") }
            return value
        } catch {
            throw reader.error(error)
        }
    }

    /// `failure` as a policy error naming its line and column.
    private func error(_ failure: JSONLexer.Failure) -> PolicyError {
        let bytes = lexer.bytes
        let before = bytes[..<min(failure.offset, bytes.count)]
        let line = before.count { $0 == UInt8(ascii: "\n") } + 1
        let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        let column = String(decoding: bytes[lineStart..<min(failure.offset, bytes.count)], as: UTF8.self).count + 1
        return PolicyError("not valid JSON: line \(line), column \(column): \(failure.problem)")
    }

    private mutating func value(path: String, depth: Int) throws(JSONLexer.Failure) -> PolicyValue {
        lexer.skipWhitespace()
        guard let byte = lexer.peek else { throw lexer.failure("expected a value, found the end of the text") }
        switch byte {
        case UInt8(ascii: "{"):
            return .table(try object(path: path, depth: depth + 1))
        case UInt8(ascii: "["):
            return .array(try array(path: path, depth: depth + 1))
        case UInt8(ascii: "\""):
            return .string(try lexer.string())
        case UInt8(ascii: "t"):
            try lexer.literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try lexer.literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try lexer.literal("null")
            return .other("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let number = try lexer.number()
            if number.isInteger, let integer = Int(number.text) { return .integer(integer) }
            return .number(number.text)
        default:
            throw lexer.failure("expected a value")
        }
    }

    private mutating func object(path: String, depth: Int) throws(JSONLexer.Failure) -> [String: PolicyValue] {
        guard depth <= Self.maximumDepth else { throw lexer.failure("nested deeper than \(Self.maximumDepth) levels") }
        lexer.offset += 1
        var entries: [String: PolicyValue] = [:]
        lexer.skipWhitespace()
        if lexer.peek == UInt8(ascii: "}") {
            lexer.offset += 1
            return entries
        }
        while true {
            lexer.skipWhitespace()
            guard lexer.peek == UInt8(ascii: "\"") else { throw lexer.failure("expected a member name in quotes") }
            let key = try lexer.string()
            let keyPath = PolicyTable.path(path, key)
            guard entries[key] == nil else { throw lexer.failure("duplicate key \"\(keyPath)\"") }
            lexer.skipWhitespace()
            try lexer.expect(UInt8(ascii: ":"))
            entries[key] = try value(path: keyPath, depth: depth)
            lexer.skipWhitespace()
            if lexer.peek == UInt8(ascii: ",") {
                lexer.offset += 1
                continue
            }
            try lexer.expect(UInt8(ascii: "}"))
            return entries
        }
    }

    private mutating func array(path: String, depth: Int) throws(JSONLexer.Failure) -> [PolicyValue] {
        guard depth <= Self.maximumDepth else { throw lexer.failure("nested deeper than \(Self.maximumDepth) levels") }
        lexer.offset += 1
        var elements: [PolicyValue] = []
        lexer.skipWhitespace()
        if lexer.peek == UInt8(ascii: "]") {
            lexer.offset += 1
            return elements
        }
        while true {
            elements.append(try value(path: "\(path)[\(elements.count)]", depth: depth))
            lexer.skipWhitespace()
            if lexer.peek == UInt8(ascii: ",") {
                lexer.offset += 1
                continue
            }
            try lexer.expect(UInt8(ascii: "]"))
            return elements
        }
    }
}
