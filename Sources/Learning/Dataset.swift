import FoundationEssentials

/// A labelled numeric dataset: one row per example, features stored row-major in one buffer, integer class labels
/// 0..<classCount.
public struct Dataset: Sendable {
    public let featureNames: [String]
    public let labelName: String
    /// `count × featureCount` values, row-major.
    public internal(set) var features: [Double]
    public let labels: [Int]
    public let classCount: Int

    public var count: Int { labels.count }
    public var featureCount: Int { featureNames.count }

    public init(featureNames: [String], labelName: String, features: [Double], labels: [Int], classCount: Int) {
        precondition(features.count == labels.count * featureNames.count, "features fill whole rows")
        self.featureNames = featureNames
        self.labelName = labelName
        self.features = features
        self.labels = labels
        self.classCount = classCount
    }

    /// Reads a CSV file with a header row; the column `label` holds integer class labels from 0, every other column
    /// a number. With a `schema`, the labels are below the class count it declares (else below
    /// `Model.maximumClassCount`), and the features are mapped through it. Errors name the file, line and column:
    /// ragged rows, non-numeric cells, a label that is not a class number, a missing label column, empty data.
    public init(csvAt path: String, label: String, schema: FeatureSchema? = nil) throws(LearningError) {
        let bytes: [UInt8]
        do {
            bytes = try LocalFile.bytes(at: path)
        } catch {
            throw LearningError(.malformedData, "\(path): cannot be read: \(error.reason)")
        }
        try self.init(csv: bytes, label: label, source: path, schema: schema)
    }

    /// Parses CSV bytes, which must be UTF-8 (see `init(csvAt:label:schema:)`); `source` names them in errors.
    public init(csv bytes: [UInt8], label: String, source: String, schema: FeatureSchema? = nil)
        throws(LearningError)
    {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw LearningError(.malformedData, "\(source): not UTF-8 text")
        }
        try self.init(csv: text, label: label, source: source, schema: schema)
    }

    /// Parses CSV text (see `init(csvAt:label:schema:)`); `source` names it in errors.
    /// The column names of a CSV header row, which must name `label` once and repeat no name.
    static func columns(ofHeader header: Substring, label: String, source: String) throws(LearningError) -> [String] {
        let columns = header.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingBlanks() }
        guard columns.contains(label) else {
            throw LearningError(
                .malformedData, "\(source): no column named \"\(label)\" (columns: \(columns.joined(separator: ", ")))")
        }
        guard Set(columns).count == columns.count else {
            throw LearningError(.malformedData, "\(source): the header repeats a column name")
        }
        return columns
    }

    public init(csv text: String, label: String, source: String = "CSV", schema: FeatureSchema? = nil)
        throws(LearningError)
    {
        let classLimit = schema?.classCount ?? Model.maximumClassCount
        let classSource =
            schema?.classCount.map { "the schema declares \($0) classes" }
            ?? "a model has at most \(Model.maximumClassCount) classes; a schema may declare fewer with \"classes\""
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        while let last = lines.last, last.allSatisfy(\.isWhitespace) { lines.removeLast() }
        guard let header = lines.first else { throw LearningError(.malformedData, "\(source): empty file") }
        let columns = try Self.columns(ofHeader: header, label: label, source: source)
        let labelColumn = columns.firstIndex(of: label)!
        guard lines.count > 1 else { throw LearningError(.malformedData, "\(source): no data rows") }
        var features: [Double] = []
        features.reserveCapacity((lines.count - 1) * (columns.count - 1))
        var labels: [Int] = []
        for (offset, line) in lines.dropFirst().enumerated() {
            let lineNumber = offset + 2
            let cells = line.split(separator: ",", omittingEmptySubsequences: false)
            guard cells.count == columns.count else {
                throw LearningError(
                    .malformedData,
                    "\(source):\(lineNumber): \(cells.count) cells, the header has \(columns.count) columns")
            }
            for (column, cell) in cells.enumerated() {
                let trimmed = cell.trimmingBlanks()
                if column == labelColumn {
                    guard let value = Int(trimmed), value >= 0, value < classLimit else {
                        throw LearningError(
                            .malformedData,
                            "\(source):\(lineNumber): label \"\(label)\" is \"\(trimmed)\", not a class number from 0 to \(classLimit - 1) (\(classSource))"
                        )
                    }
                    labels.append(value)
                } else {
                    guard let value = Double(trimmed), value.isFinite else {
                        throw LearningError(
                            .malformedData,
                            "\(source):\(lineNumber): column \"\(columns[column])\" is \"\(trimmed)\", not a finite number"
                        )
                    }
                    features.append(value)
                }
            }
        }
        var names = columns
        names.remove(at: labelColumn)
        self.init(
            featureNames: names, labelName: label, features: features, labels: labels,
            classCount: schema?.classCount ?? (labels.max() ?? 0) + 1)
        if let schema { self = try schema.apply(to: self) }
    }

    /// The features of example `index`.
    public func row(_ index: Int) -> [Double] {
        Array(features[(index * featureCount)..<((index + 1) * featureCount)])
    }

    /// The examples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        var rows: [Double] = []
        rows.reserveCapacity(indices.count * featureCount)
        for index in indices { rows += row(index) }
        return Dataset(
            featureNames: featureNames, labelName: labelName, features: rows, labels: indices.map { labels[$0] },
            classCount: classCount)
    }

    /// A seeded shuffle split: `testFraction` of the examples (rounded) for testing, the rest for training.
    public func split(testFraction: Double, seed: UInt64) -> (train: Dataset, test: Dataset) {
        var generator = SplitMix64(seed: seed)
        var order = Array(0..<count)
        order.shuffle(using: &generator)
        let testCount = Int((Double(count) * testFraction).rounded())
        return (subset(Array(order[testCount...])), subset(Array(order[..<testCount])))
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small seeded generator for reproducible splits and initialisation
/// only. Privacy noise and sampling never use it.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
