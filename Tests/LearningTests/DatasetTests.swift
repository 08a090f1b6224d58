import CloisterTestSupport
import Foundation
import Learning
import Testing

@Suite("CSV datasets, seeded splits and public-bounds schemas")
struct DatasetTests {
    @Test("a well-formed CSV loads with the label column removed from the features")
    func loads() throws {
        let data = try Dataset(csv: "a,label,b\n1,0,2\n3.5,1,-4\n", label: "label")
        #expect(data.featureNames == ["a", "b"] && data.labels == [0, 1] && data.classCount == 2)
        #expect(data.features == [1, 2, 3.5, -4] && data.row(1) == [3.5, -4])
    }

    @Test(
        "malformed CSV is refused with the line and column named",
        arguments: [
            ("", "empty file"),
            ("a,label\n", "no data rows"),
            ("a,b\n1,0\n", "no column named \"label\""),
            ("a,label\n1,0\n2\n", "CSV:3: 1 cells, the header has 2 columns"),
            ("a,label\n1,0\nx,1\n", "CSV:3: column \"a\" is \"x\", not a finite number"),
            ("a,label\n1,0\nnan,1\n", "column \"a\" is \"nan\""),
            ("a,label\n1,\n", "CSV:2: label \"label\" is \"\", not a class number"),
            ("a,label\n1,-1\n", "label \"label\" is \"-1\""),
            ("a,a,label\n1,2,0\n", "repeats a column name"),
        ])
    func malformed(text: String, expected: String) {
        #expect {
            try Dataset(csv: text, label: "label")
        } throws: { error in
            let error = error as? LearningError
            return error?.code == .malformedData && error?.reason.contains(expected) == true
        }
    }

    @Test("the split is reproducible from its seed, disjoint, and 80/20")
    func split() throws {
        let rows = (0..<100).map { "\($0),\($0 % 2)" }.joined(separator: "\n")
        let data = try Dataset(csv: "x,label\n" + rows, label: "label")
        let (train, test) = data.split(testFraction: 0.2, seed: 7)
        let again = data.split(testFraction: 0.2, seed: 7)
        #expect(train.count == 80 && test.count == 20)
        #expect(train.features == again.train.features && test.features == again.test.features)
        #expect(Set(train.features + test.features).count == 100)
        #expect(data.split(testFraction: 0.2, seed: 8).test.features != test.features)
    }

    @Test("the schema clips to its bounds and maps onto [-1, 1], linearly or on a log scale")
    func schema() throws {
        let schema = FeatureSchema(features: [
            "a": .init(bounds: 0...10), "b": .init(bounds: 1...2, scale: .log),
        ])
        let data = try Dataset(csv: "a,b,label\n5,1,0\n-3,2,1\n99,9,0\n", label: "label")
        let scaled = try schema.apply(to: data)
        #expect(scaled.features.map { ($0 * 1e12).rounded() / 1e12 } == [0, -1, -1, 1, 1, 1])
        let middle = FeatureSchema.Feature(bounds: 1...2, scale: .log).transform(1.5)
        #expect(abs(middle - (2 * (log(0.6) - log(0.1)) / (log(1.1) - log(0.1)) - 1)) < 1e-12)
        #expect(throws: LearningError.self) { try FeatureSchema(features: ["a": .init(bounds: 0...1)]).apply(to: data) }
    }

    @Test(
        "malformed schema files are refused naming the feature",
        arguments: [
            #"{"features": {"a": [1, 0]}}"#, #"{"features": {"a": [0]}}"#, #"{"features": {"a": "x"}}"#,
            #"{"features": {"a": {"bounds": [0, 1], "scale": "cubic"}}}"#,
            #"{"features": {"a": {"bounds": [0, 1], "shift": 2}}}"#, #"{"features": {}, "extra": 1}"#, "not json",
        ])
    func malformedSchema(text: String) throws {
        let directory = try TestEnvironment.temporaryDirectory("schema")
        let path = directory.appendingPathComponent("schema.json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: LearningError.self) { try FeatureSchema(contentsOf: path) }
    }

    @Test("the shipped schemas declare every feature of their datasets")
    func shippedSchemas() throws {
        for name in ["breast_cancer", "digits"] {
            let root = TestEnvironment.packageRoot.appendingPathComponent("Datasets")
            let data = try Dataset(csvAt: root.appendingPathComponent("\(name).csv").path, label: "label")
            let schema = try FeatureSchema(contentsOf: root.appendingPathComponent("\(name).schema.json").path)
            let scaled = try schema.apply(to: data)
            #expect(scaled.features.allSatisfy { (-1...1).contains($0) })
        }
    }
}
