import CloisterTestSupport
import Foundation
import Testing

@testable import Learning

@Suite("The data owner's files without Foundation: reading, blanks, schema JSON")
struct LocalFileTests {
    @Test("cells and column names are trimmed exactly as Foundation trims whitespace, for 600 random strings")
    func trimmingMatchesFoundation() {
        let alphabet: [String] = [
            " ", "\t", "\u{A0}", "\u{2003}", "\u{3000}", "\u{200B}", "\u{0B}", "\u{0C}", "\u{85}", "a", "1", "é",
            "e\u{301}", "\u{301}", "🔒", ",",
        ]
        var random = SplitMix64(seed: 18)
        var changed = 0
        for _ in 0..<600 {
            let text = (0..<Int.random(in: 0...8, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
                .joined()
            let expected = text.trimmingCharacters(in: .whitespaces)
            #expect(text[...].trimmingBlanks() == expected, "\(Array(text.unicodeScalars))")
            if expected != text { changed += 1 }
        }
        #expect(changed > 100, "too few strings had blanks to trim: the comparison would be vacuous")
    }

    @Test("a blank is exactly a scalar of Foundation's whitespace set, over every Unicode scalar")
    func blanksAreFoundationsWhitespace() {
        var differing: [UInt32] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let text = "x" + String(scalar) + "x"
            let trimmed = String(scalar)[...].trimmingBlanks().isEmpty
            if trimmed != CharacterSet.whitespaces.contains(scalar) || text[...].trimmingBlanks() != text {
                differing.append(value)
            }
        }
        #expect(differing.isEmpty, "\(differing.prefix(10).map { String($0, radix: 16) })")
    }

    @Test("an unreadable dataset or schema names the file and the system's reason")
    func unreadable() throws {
        let directory = try TestEnvironment.temporaryDirectory("local-file")
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing.csv").path
        let dataset = #expect(throws: LearningError.self) { try Dataset(csvAt: missing, label: "label") }
        #expect(dataset?.reason == "\(missing): cannot be read: No such file or directory (errno 2)")
        let schema = #expect(throws: LearningError.self) { try FeatureSchema(contentsOf: directory.path) }
        #expect(schema?.code == .malformedSchema)
        #expect(schema?.reason == "\(directory.path): cannot be read: Is a directory (errno 21)")
        let latin1 = directory.appendingPathComponent("latin1.csv")
        try Data([0x61, 0x2C, 0x6C, 0x61, 0x62, 0x65, 0x6C, 0x0A, 0xE9, 0x2C, 0x30, 0x0A]).write(to: latin1)
        let encoding = #expect(throws: LearningError.self) { try Dataset(csvAt: latin1.path, label: "label") }
        #expect(encoding?.reason == "\(latin1.path): not UTF-8 text")
    }

    @Test("a file larger than one read is read whole")
    func largeFile() throws {
        let directory = try TestEnvironment.temporaryDirectory("local-file")
        defer { try? FileManager.default.removeItem(at: directory) }
        let rows = (0..<20_000).map { "\($0 % 97),\($0 % 2)" }
        let path = directory.appendingPathComponent("large.csv").path
        try ("a,label\n" + rows.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let data = try Dataset(csvAt: path, label: "label")
        #expect(data.count == 20_000 && data.row(19_999) == [Double(19_999 % 97)] && data.labels.last == 1)
    }

    @Test("schema values keep JSON's kinds: booleans are not numbers, objects and arrays print as JSON")
    func schemaValues() throws {
        let value = try JSONDecoder().decode(
            JSONValue.self, from: Data(#"{"b": [1, true, null, "x"], "a": {"c": 2.5}}"#.utf8))
        #expect(value.description == #"{"a": {"c": 2.5}, "b": [1.0, true, null, "x"]}"#)
        #expect(JSONValue.array([.number(1), .bool(true)]).numbers == nil)
        #expect(JSONValue.array([.number(1), .number(2)]).numbers == [1, 2])
    }
}
