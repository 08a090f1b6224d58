public import TOMLKit

/// The one way Cloister parses TOML text (manifests, policies): TOMLKit, which wraps toml++, behind the checks toml++
/// needs to stay safe on hostile text.
///
/// - toml++ asserts (and aborts the process) on some non-ASCII text outside strings, which TOML 1.0 allows only in
///   strings and comments: such text is refused here, naming its line and column, before toml++ sees it.
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
        if let (line, column) = firstNonASCIIOutsideStrings(text) {
            throw Refusal(
                line: line, column: column,
                problem:
                    "a non-ASCII character outside a string or comment (TOML keys and values other than strings are ASCII)"
            )
        }
        do {
            return try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw Refusal(line: error.source.begin.line, column: error.source.begin.column, problem: error.description)
        } catch {
            throw Refusal(line: nil, column: nil, problem: "\(error)")
        }
    }

    /// The line and column (from 1, in bytes) of the first non-ASCII byte outside a string or a comment, if any.
    static func firstNonASCIIOutsideStrings(_ text: String) -> (line: Int, column: Int)? {
        let bytes = Array(text.utf8)
        var line = 1
        var lineStart = 0
        var index = 0
        func starts(_ delimiter: String, at position: Int) -> Bool {
            let delimiter = Array(delimiter.utf8)
            return position + delimiter.count <= bytes.count
                && bytes[position..<(position + delimiter.count)].elementsEqual(delimiter)
        }
        /// Skips to just past `delimiter`, honouring backslash escapes when `escapes`; counts the lines crossed.
        func skip(past delimiter: String, escapes: Bool, singleLine: Bool) {
            while index < bytes.count {
                if escapes && bytes[index] == UInt8(ascii: "\\") {
                    index += 2
                    continue
                }
                if starts(delimiter, at: index) {
                    index += delimiter.utf8.count
                    return
                }
                if bytes[index] == UInt8(ascii: "\n") {
                    if singleLine { return }
                    line += 1
                    lineStart = index + 1
                }
                index += 1
            }
        }
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\n"):
                line += 1
                lineStart = index + 1
                index += 1
            case UInt8(ascii: "#"):
                while index < bytes.count && bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "\""):
                if starts("\"\"\"", at: index) {
                    index += 3
                    skip(past: "\"\"\"", escapes: true, singleLine: false)
                } else {
                    index += 1
                    skip(past: "\"", escapes: true, singleLine: true)
                }
            case UInt8(ascii: "'"):
                if starts("'''", at: index) {
                    index += 3
                    skip(past: "'''", escapes: false, singleLine: false)
                } else {
                    index += 1
                    skip(past: "'", escapes: false, singleLine: true)
                }
            case 0x80...:
                return (line, index - lineStart + 1)
            default:
                index += 1
            }
        }
        return nil
    }
}
