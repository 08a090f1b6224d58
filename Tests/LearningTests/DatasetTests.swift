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

    @Test("a label is a class number below the most classes a model has (1,000): at the limit and beyond")
    func labelLimit() throws {
        let atLimit = try Dataset(csv: "a,label\n1,0\n2,999\n", label: "label", source: "d.csv")
        #expect(atLimit.classCount == Model.maximumClassCount)
        // 10,000,000 once took 43 s and 1.3 GB; 2,000,000,000 aborted allocating 48 GB.
        for label in ["1000", "10000000", "2000000000", "99999999999999999999", "-1", "2.5", "1e3", "x"] {
            let clock = ContinuousClock()
            let start = clock.now
            let error = #expect(throws: LearningError.self) {
                try Dataset(csv: "a,label\n1,0\n2,\(label)\n", label: "label", source: "d.csv")
            }
            #expect(
                error?.reason
                    == "d.csv:3: label \"label\" is \"\(label)\", not a class number from 0 to 999 (a model has at most 1000 classes; a schema may declare fewer with \"classes\")"
            )
            #expect(start.duration(to: clock.now) < .seconds(1))
        }
    }

    @Test("a schema's declared classes bound the labels and set the class count, whatever labels the rows hold")
    func declaredClasses() throws {
        let schema = try FeatureSchema(
            json: Array(#"{"features": {"a": [0, 10]}, "classes": 10}"#.utf8), source: "s.json")
        #expect(schema.classCount == 10)
        let data = try Dataset(csv: "a,label\n5,0\n10,1\n", label: "label", source: "d.csv", schema: schema)
        #expect(data.classCount == 10 && data.features == [0, 1])
        #expect(try Dataset(csv: "a,label\n5,9\n", label: "label", source: "d.csv", schema: schema).labels == [9])
        let error = #expect(throws: LearningError.self) {
            try Dataset(csv: "a,label\n5,0\n5,1\n5,10\n", label: "label", source: "d.csv", schema: schema)
        }
        #expect(
            error?.reason
                == "d.csv:4: label \"label\" is \"10\", not a class number from 0 to 9 (the schema declares 10 classes)"
        )
        for count in [2, Model.maximumClassCount] {
            let bytes = Array(#"{"features": {"a": [0, 1]}, "classes": \#(count)}"#.utf8)
            #expect(try FeatureSchema(json: bytes, source: "s.json").classCount == count)
        }
    }

    @Test(
        "a schema's classes must be an integer from 2 to 1,000",
        arguments: ["1", "1001", "2.5", #""10""#, "true", "-3", "1e30", "null", "[10]"])
    func badClasses(value: String) {
        let bytes = Array(#"{"features": {"a": [0, 1]}, "classes": \#(value)}"#.utf8)
        #expect {
            try FeatureSchema(json: bytes, source: "s.json")
        } throws: { error in
            let error = error as? LearningError
            return error?.code == .malformedSchema
                && error?.reason.hasPrefix("s.json: \"classes\" is ") == true
                && error?.reason.hasSuffix("not a class count from 2 to 1000") == true
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
        for name in ["breast_cancer", "digits", "mnist_5k"] {
            let root = TestEnvironment.packageRoot.appendingPathComponent("Datasets")
            let data = try Dataset(csvAt: root.appendingPathComponent("\(name).csv").path, label: "label")
            let schema = try FeatureSchema(contentsOf: root.appendingPathComponent("\(name).schema.json").path)
            let scaled = try schema.apply(to: data)
            #expect(scaled.features.allSatisfy { (-1...1).contains($0) })
        }
    }
}
