/// The one way Cloister parses TOML text (manifests, policies): `TOMLReader`, TOML 1.0 in Swift, then a refusal of
/// any NUL in a key or a string (manifests hand their strings to C, where a NUL would end them early).
///
/// Cloister read TOML through TOMLKit (toml++) until fuzzing found that toml++ 3 asserts, and so aborts the process,
/// on table headers whose key does not begin with a key character (`Fuzz/Regressions/policy`,
/// `Fuzz/Regressions/manifest-toml`), and that TOMLKit leaks what it reads; the reader that replaced it agrees with
/// Python's `tomllib` on every document of `TOMLDifferentialTests` and of the committed corpora.
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
        let table: TOMLTable
        do {
            table = try TOMLReader.read(text)
        } catch {
            throw Refusal(line: error.line, column: error.column, problem: error.problem)
        }
        guard !TOMLValue.table(table).holdsNUL else {
            throw Refusal(line: nil, column: nil, problem: "NUL characters are not allowed")
        }
        return table
    }
}

extension TOMLValue {
    /// True when a key or a string in the value holds U+0000.
    fileprivate var holdsNUL: Bool {
        switch self {
        case .string(let text): text.utf8.contains(0)
        case .array(let elements): elements.contains { $0.holdsNUL }
        case .table(let table): table.keys.contains { $0.utf8.contains(0) || table[$0]!.holdsNUL }
        case .integer, .float, .bool, .dateTime: false
        }
    }
}
