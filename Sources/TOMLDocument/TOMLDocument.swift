public import TOMLKit

/// The one way Cloister parses TOML text (manifests, policies): TOMLKit, which wraps toml++, behind the checks toml++
/// needs to stay safe on hostile text.
///
/// - toml++ 3 asserts, and so aborts the process, when a table header's key does not begin with a key character or a
///   quote (`[` then a newline, say, or non-ASCII text): such a header is refused here, and so is any non-ASCII text
///   outside strings and comments, where TOML 1.0 allows none, naming its line and column before toml++ sees the text.
///   Both were found by fuzzing (`Fuzz/Regressions/policy`, `Fuzz/Regressions/manifest-toml`).
/// - TOMLKit hands the text to C, which would end it at a NUL; a NUL escape would cut a key or string short: both are
///   refused.
public enum TOMLDocument {
    /// Why text is not a TOML document Cloister reads: the problem, and where it is when known (from 1).
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public let line: Int?
        public let column: Int?
        public let problem: String

        public var description: String {
            guard let line, let column else { return problem }
            return "line \(line), column \(column): \(problem)"
        }
    }

    /// Parses `text`; throws naming the first problem and where it is.
    public static func parse(_ text: String) throws(Refusal) -> TOMLTable {
        if text.contains("\0") || text.contains("\\u0000") || text.contains("\\U00000000") {
            throw Refusal(line: nil, column: nil, problem: "NUL characters are not allowed")
        }
        if let refusal = firstProblem(Array(text.utf8)) { throw refusal }
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw Refusal(line: error.source.begin.line, column: error.source.begin.column, problem: error.description)
        } catch {
            throw Refusal(line: nil, column: nil, problem: "\(error)")
        }
    }

    /// The first of the two things toml++ must not see, with its line and column (from 1, in bytes): a non-ASCII
    /// byte outside a string or a comment, or a table header (`[` or `[[` where a line's key would begin, outside a
    /// value) whose key does not begin with a key character, a quote or `]`.
    static func firstProblem(_ bytes: [UInt8]) -> Refusal? {
        var scanner = TOMLScanner(bytes)
        return scanner.firstProblem()
    }
}

/// Walks TOML text as toml++ will tokenise it, far enough to tell keys, values, strings and comments apart.
private struct TOMLScanner {
    let bytes: [UInt8]
    var index = 0
    var line = 1
    var lineStart = 0
    /// Open `[` and `{` of the value being read; a value ends at a newline with none open.
    var depth = 0
    /// Whether a key-value pair's `=` has been read on this logical line (until its value ends).
    var inValue = false

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func firstProblem() -> TOMLDocument.Refusal? {
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\n"):
                newline()
                index += 1
                if depth == 0 { inValue = false }
            case UInt8(ascii: "#"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                skipString(quote: byte)
            case UInt8(ascii: "="):
                inValue = true
                index += 1
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                if byte == UInt8(ascii: "["), !inValue, depth == 0, let refusal = tableHeaderProblem() {
                    return refusal
                }
                if inValue { depth += 1 }
                index += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if inValue && depth > 0 { depth -= 1 }
                index += 1
            case 0x80...:
                return refusal(
                    at: index,
                    "a non-ASCII character outside a string or comment (TOML keys and values other than strings are "
                        + "ASCII)")
            default:
                index += 1
            }
        }
        return nil
    }

    /// At a table header's `[`: nil when its key begins as toml++ requires, else the refusal.
    private func tableHeaderProblem() -> TOMLDocument.Refusal? {
        var next = index + 1
        if next < bytes.count && bytes[next] == UInt8(ascii: "[") { next += 1 }
        while next < bytes.count && (bytes[next] == UInt8(ascii: " ") || bytes[next] == UInt8(ascii: "\t")) {
            next += 1
        }
        guard next < bytes.count else { return nil }
        switch bytes[next] {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "\""),
            UInt8(ascii: "'"), UInt8(ascii: "]"):
            return nil
        default:
            return refusal(at: next, "a table header whose key does not begin with a key character or a quote")
        }
    }

    /// Steps over a string starting at `index` (basic or literal, single- or multi-line), counting its lines.
    private mutating func skipString(quote: UInt8) {
        let multiline = index + 2 < bytes.count && bytes[index + 1] == quote && bytes[index + 2] == quote
        index += multiline ? 3 : 1
        while index < bytes.count {
            let byte = bytes[index]
            if quote == UInt8(ascii: "\"") && byte == UInt8(ascii: "\\") {
                // An escape, or in a multi-line string a line-ending backslash: the next byte is the string's.
                index += 1
                if index < bytes.count && bytes[index] == UInt8(ascii: "\n") { newline() }
                index += 1
                continue
            }
            if byte == quote
                && (!multiline || (index + 2 < bytes.count && bytes[index + 1] == quote && bytes[index + 2] == quote))
            {
                index += multiline ? 3 : 1
                return
            }
            if byte == UInt8(ascii: "\n") {
                if !multiline { return }
                newline()
            }
            index += 1
        }
    }

    private mutating func newline() {
        line += 1
        lineStart = index + 1
    }

    private func refusal(at position: Int, _ problem: String) -> TOMLDocument.Refusal {
        TOMLDocument.Refusal(line: line, column: position - lineStart + 1, problem: problem)
    }
}
