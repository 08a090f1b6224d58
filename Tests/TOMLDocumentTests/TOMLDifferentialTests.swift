import CloisterTestSupport
import Foundation
import TOMLDocument
import Testing

/// Cloister's TOML reader against Python's `tomllib` (the standard library's TOML 1.0 reader): a document of every
/// construct, the manifests, a policy, the edge cases TOML 1.0 and toml-test name, and mutations of them by the
/// thousand (Tests/Interop/toml_differential.py). Both must accept the same documents with the same values, and
/// refuse the same ones. One difference is deliberate and left out: an integer past 64 bits, which tomllib keeps and
/// Cloister refuses (TOML 1.0 lets a reader refuse what it cannot hold losslessly).
@Suite(
    "TOML reader against tomllib",
    .enabled(if: TestEnvironment.python != nil, "set CLOISTER_PYTHON to a Python 3.11+ (make test does)"))
struct TOMLDifferentialTests {
    static let documents = TestEnvironment.packageRoot.appendingPathComponent("Tests/TOMLDocumentTests/Documents")

    @Test("the same verdict and the same values as tomllib on 20,000 documents, mutations included", arguments: [1, 2])
    func agreesWithTomllib(seed: Int) throws {
        let manifests = try FileManager.default.contentsOfDirectory(
            atPath: TestEnvironment.packageRoot.appendingPathComponent("Manifests").path
        ).filter { $0.hasSuffix(".toml") }.sorted().map {
            TestEnvironment.packageRoot.appendingPathComponent("Manifests/\($0)").path
        }
        let output = try runTool(
            try #require(TestEnvironment.python),
            [
                TestEnvironment.interopScript("toml_differential.py"), "10000", "\(seed)",
                Self.documents.appendingPathComponent("every-construct.toml").path,
                Self.documents.appendingPathComponent("policy.toml").path,
            ] + manifests)
        try #require(output.status == 0, "\(output.standardError)")
        let cases = try #require(
            try JSONSerialization.jsonObject(with: Data(output.standardOutput.utf8)) as? [[String: Any]])
        // The comparison itself can fail: a control that must match, and one that must not.
        let control = Self.tagged(.table(try TOMLDocument.parse("a = 1"))) as? NSObject
        #expect(control == (["t": ["a": ["i": "1"]]] as NSObject))
        #expect(control != (["t": ["a": ["i": "2"]]] as NSObject))
        var accepted = 0
        var refused = 0
        var disagreements: [String] = []
        for item in cases {
            let document = try #require(item["doc"] as? String)
            let ours = Result { () throws(TOMLDocument.Refusal) in try TOMLDocument.parse(document) }
            switch (ours, item["value"]) {
            case (.success(let table), let value?):
                if (Self.tagged(.table(table)) as? NSObject) != (value as? NSObject) {
                    disagreements.append("values differ: \(document.debugDescription.prefix(200))")
                }
                accepted += 1
            case (.failure, nil):
                refused += 1
            case (.success, nil):
                disagreements.append(
                    "accepted what tomllib refuses (\(item["error"] ?? "")): \(document.debugDescription.prefix(200))")
            case (.failure(let refusal), _?):
                // A NUL in a key or string is refused on purpose (manifests hand strings to C); tomllib keeps it.
                if refusal.problem != "NUL characters are not allowed" {
                    disagreements.append(
                        "refused (\(refusal)) what tomllib reads: \(document.debugDescription.prefix(200))")
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements: \(disagreements.prefix(5))")
        #expect(accepted > 2_000 && refused > 2_000, "accepted \(accepted), refused \(refused)")
    }

    @Test("a document of every construct reads as TOML 1.0 says")
    func everyConstruct() throws {
        let text = try String(
            contentsOf: Self.documents.appendingPathComponent("every-construct.toml"), encoding: .utf8)
        let table = try TOMLDocument.parse(text)
        #expect(table["title"] == .string("TOML \"example\" é 😀"))
        #expect(table["literal"] == .string(#"C:\Users\nodejs"#))
        #expect(table["multi"] == .string("Roses are redViolets are blue\n  \"\"two quotes\"\" and \"\"\""))
        #expect(
            table["hex"] == .integer(0xDEAD_BEEF) && table["oct"] == .integer(0o755)
                && table["bin"] == .integer(0b1101_0101))
        #expect(table["flt3"] == .float(5e22) && table["sinf"] == .float(-.infinity))
        #expect(table["odt3"] == .dateTime("1979-05-27 07:32:00+01:30"))
        #expect(table["a"]?.table?["b"]?.table?["d"] == .integer(2))
        #expect(table["3"]?.table?["14159"] == .string("pi"))
        #expect(table["products"]?.array?.count == 3)
        #expect(table["fruits"]?.array?.last?.table?["varieties"]?.array?.first?.table?["name"] == .string("plantain"))
        #expect(table["x"]?.table?["implicit"] == .string("now explicit"))
        #expect(table.keys.prefix(3) == ["title", "literal", "multi"])
    }

    @Test("errors name the line and column; nesting is bounded")
    func errors() throws {
        let duplicate = #expect(throws: TOMLDocument.Refusal.self) { try TOMLDocument.parse("a = 1\n\nb = 2\na = 3\n") }
        #expect(duplicate?.description == "line 4, column 1: 'a' is defined twice")
        let header = #expect(throws: TOMLDocument.Refusal.self) { try TOMLDocument.parse("[a]\nx = 1\n[a]\n") }
        #expect(header?.description.hasPrefix("line 3") == true, "\(header?.description ?? "")")
        let deep = String(repeating: "[", count: TOMLReader.maximumDepth + 1)
        let nested = #expect(throws: TOMLDocument.Refusal.self) { try TOMLDocument.parse("a = \(deep)") }
        #expect(nested?.problem == "values nest deeper than \(TOMLReader.maximumDepth)")
        // Inline tables count as arrays do: `levels` tables around a value put it `levels` deep.
        func inline(_ levels: Int) -> String {
            "a = " + String(repeating: "{b = [", count: levels / 2) + String(repeating: "{b = ", count: levels % 2)
                + "1"
                + String(repeating: "}", count: levels % 2) + String(repeating: "]}", count: levels / 2)
        }
        #expect(throws: Never.self) { try TOMLDocument.parse(inline(TOMLReader.maximumDepth - 1)) }
        let tables = #expect(throws: TOMLDocument.Refusal.self) {
            try TOMLDocument.parse(inline(TOMLReader.maximumDepth))
        }
        #expect(tables?.problem == "values nest deeper than \(TOMLReader.maximumDepth)")
        let onlyTables = "a = " + String(repeating: "{b = ", count: 200) + "1" + String(repeating: "}", count: 200)
        #expect(throws: TOMLDocument.Refusal.self) { try TOMLDocument.parse(onlyTables) }
    }

    /// The value tagged as toml_differential.py tags tomllib's, dates in Python's isoformat.
    static func tagged(_ value: TOMLValue) -> Any {
        switch value {
        case .string(let text): ["s": text]
        case .integer(let integer): ["i": String(integer)]
        case .float(let number): ["f": number.isNaN ? "nan" : String(number.bitPattern, radix: 16)]
        case .bool(let flag): ["b": flag]
        case .dateTime(let text): ["dt": isoformat(text)]
        case .array(let elements): elements.map(tagged)
        case .table(let table): ["t": Dictionary(uniqueKeysWithValues: table.keys.map { ($0, tagged(table[$0]!)) })]
        }
    }

    /// A TOML date, time or date-time as Python's `isoformat` writes it: 'T' between date and time, microseconds
    /// (six digits, the rest cut) only when not zero, and an offset of Z as +00:00.
    static func isoformat(_ text: String) -> String {
        var text = text
        var offset = ""
        if text.count > 10, let last = text.last, last == "Z" || last == "z" {
            text.removeLast()
            offset = "+00:00"
        } else if text.count > 16, let sign = text.dropLast(5).last, sign == "+" || sign == "-",
            text.dropLast(6).contains(":")
        {
            offset = String(text.suffix(6))
            text.removeLast(6)
            if offset == "-00:00" { offset = "+00:00" }
        }
        var date = ""
        var time = text
        if text.count >= 10, text.dropFirst(4).first == "-" {
            date = String(text.prefix(10))
            time = text.count > 10 ? String(text.dropFirst(11)) : ""
        }
        if !time.isEmpty, let dot = time.firstIndex(of: ".") {
            let digits = String(time[time.index(after: dot)...].prefix(6))
            let micro = digits + String(repeating: "0", count: 6 - digits.count)
            time = String(time[..<dot]) + (Int(micro) == 0 ? "" : "." + micro)
        }
        return date.isEmpty ? time : time.isEmpty ? date : date + "T" + time + offset
    }
}
