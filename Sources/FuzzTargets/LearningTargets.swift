import FoundationEssentials
import Learning

/// What a data owner hands `dp train` and the enclave: CSV datasets with their schemas, and training specs.
enum LearningTargets {
    /// The input's first line names the label column; after a NUL byte comes the schema's JSON (if any); the rest
    /// is the CSV. What reads is consistent: a row of features per label, every label a class.
    static func csvDataset(_ input: [UInt8]) {
        let parts = input.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let csv = parts[0]
        let schema = parts.count > 1 ? try? FeatureSchema(json: Array(parts[1]), source: "fuzz schema") : nil
        let label =
            String(decoding: csv.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
            .split(separator: ",").first.map(String.init) ?? "label"
        guard let dataset = try? Dataset(csv: Array(csv), label: label, source: "fuzz CSV", schema: schema) else {
            return
        }
        require(dataset.features.count == dataset.count * dataset.featureCount, "a row of features per label")
        require(dataset.labels.allSatisfy { (0..<dataset.classCount).contains($0) }, "every label is a class")
        require(!dataset.featureNames.contains(dataset.labelName), "the label is not a feature")
        if let schema {
            _ = try? schema.apply(to: dataset)
        }
    }

    /// A training spec and a trained model as JSON; what decodes encodes and decodes back to itself, and a spec that
    /// decodes is made ready on a small dataset as the enclave makes it ready (validated, planned, calibrated, the
    /// model allocated), which must refuse what it cannot run rather than trap or run out of memory.
    static func trainingSpec(_ input: [UInt8]) {
        if let spec = try? JSONDecoder().decode(TrainingSpec.self, from: Data(input)) {
            let encoded = try? JSONEncoder().encode(spec)
            require(
                encoded.flatMap { try? JSONDecoder().decode(TrainingSpec.self, from: $0) } == spec,
                "a training spec round-trips")
            _ = try? TrainingSetup(dataset: examples, spec: spec)
        }
        if let model = try? TrainedModel(json: input) {
            require((try? model.encoded()).flatMap { try? TrainedModel(json: $0) } == model, "a model round-trips")
        }
    }

    /// Forty examples of two features in three classes.
    static let examples = Dataset(
        featureNames: ["a", "b"], labelName: "label", features: (0..<80).map { Double($0 % 7) / 7 },
        labels: (0..<40).map { $0 % 3 }, classCount: 3)
}
