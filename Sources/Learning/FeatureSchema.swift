import Foundation

/// Public bounds for every feature, declared by the data owner (not measured on the private data): each feature is
/// clipped to its bounds and mapped onto [−1, 1], so preprocessing spends no privacy budget.
///
/// The file is JSON, one entry per feature column:
/// `{"features": {"NAME": [LOW, HIGH], "OTHER": {"bounds": [LOW, HIGH], "scale": "log"}, ...}, "classes": K}` with
/// LOW < HIGH. `"scale": "log"` (for heavy-tailed positive quantities) maps the clipped value v through
/// log(0.1 + (v − LOW)/(HIGH − LOW)) before the map onto [−1, 1]; the default `"linear"` maps it directly. The
/// optional `"classes"` (an integer from 2 to `Model.maximumClassCount`) declares the class count: labels must lie
/// in 0..<K, and the model has K classes whichever labels the rows hold.
public struct FeatureSchema: Sendable, Equatable {
    public enum Scale: String, Sendable {
        case linear, log
    }

    public struct Feature: Sendable, Equatable {
        public let bounds: ClosedRange<Double>
        public let scale: Scale

        public init(bounds: ClosedRange<Double>, scale: Scale = .linear) {
            self.bounds = bounds
            self.scale = scale
        }

        /// The value clipped to the bounds and mapped onto [−1, 1].
        public func transform(_ value: Double) -> Double {
            let unit =
                (min(max(value, bounds.lowerBound), bounds.upperBound) - bounds.lowerBound)
                / (bounds.upperBound - bounds.lowerBound)
            switch scale {
            case .linear: return 2 * unit - 1
            case .log: return 2 * (log(0.1 + unit) - log(0.1)) / (log(1.1) - log(0.1)) - 1
            }
        }
    }

    public let features: [String: Feature]
    /// The declared class count, if any.
    public let classCount: Int?

    public init(features: [String: Feature], classCount: Int? = nil) {
        self.features = features
        self.classCount = classCount
    }

    public init(contentsOf path: String) throws(LearningError) {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw LearningError(.malformedSchema, "\(path): cannot be read: \(error.localizedDescription)")
        }
        try self.init(json: Array(data), source: path)
    }

    /// Parses a schema's JSON text; `source` names it in errors.
    public init(json bytes: [UInt8], source: String) throws(LearningError) {
        let path = source
        let data = Data(bytes)
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let entries = object["features"] as? [String: Any], Set(object.keys).isSubset(of: ["features", "classes"])
        else {
            throw LearningError(
                .malformedSchema, "\(path): expected {\"features\": {\"NAME\": [LOW, HIGH], ...}, \"classes\": K}")
        }
        if let declared = object["classes"] {
            guard !(declared is Bool), let number = declared as? NSNumber, let count = Int(exactly: number.doubleValue),
                (2...Model.maximumClassCount).contains(count)
            else {
                throw LearningError(
                    .malformedSchema,
                    "\(path): \"classes\" is \(declared), not a class count from 2 to \(Model.maximumClassCount)")
            }
            classCount = count
        } else {
            classCount = nil
        }
        var features: [String: Feature] = [:]
        for (name, value) in entries {
            let description = value as? [String: Any]
            let scaleName = description?["scale"] ?? "linear"
            guard let pair = (description?["bounds"] ?? value) as? [Double], pair.count == 2,
                pair[0].isFinite, pair[1].isFinite, pair[0] < pair[1],
                let scale = (scaleName as? String).flatMap(Scale.init(rawValue:)),
                description.map({ Set($0.keys).isSubset(of: ["bounds", "scale"]) }) ?? true
            else {
                throw LearningError(
                    .malformedSchema,
                    "\(path): feature \"\(name)\" needs [LOW, HIGH] or {\"bounds\": [LOW, HIGH], \"scale\": \"linear\" | \"log\"} with LOW < HIGH"
                )
            }
            features[name] = Feature(bounds: pair[0]...pair[1], scale: scale)
        }
        self.features = features
    }

    /// `dataset` with every feature transformed; every feature must be declared.
    public func apply(to dataset: Dataset) throws(LearningError) -> Dataset {
        let columns = try dataset.featureNames.map { name throws(LearningError) in
            guard let feature = features[name] else {
                throw LearningError(.malformedSchema, "the schema declares no bounds for feature \"\(name)\"")
            }
            return feature
        }
        var scaled = dataset
        for index in scaled.features.indices {
            scaled.features[index] = columns[index % columns.count].transform(scaled.features[index])
        }
        return scaled
    }
}
