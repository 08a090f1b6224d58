import FoundationEssentials
import Glibc

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
        let bytes: [UInt8]
        do {
            bytes = try LocalFile.bytes(at: path)
        } catch {
            throw LearningError(.malformedSchema, "\(path): cannot be read: \(error.reason)")
        }
        try self.init(json: bytes, source: path)
    }

    /// A schema to fill in for the CSV whose header row is the first line of `csv`: every feature column, in the
    /// header's order, with bounds `[null, null]` (which no schema accepts: the data owner writes the public bounds,
    /// which are never read off the data).
    public static func draft(csv: String, label: String, source: String) throws(LearningError) -> String {
        guard let header = csv.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).first,
            !header.allSatisfy(\.isWhitespace)
        else { throw LearningError(.malformedData, "\(source): no header row") }
        let features = try Dataset.columns(ofHeader: header, label: label, source: source).filter { $0 != label }
        let encoder = JSONEncoder()
        let entries = features.map { name in
            "    \(String(decoding: (try? encoder.encode(name)) ?? Data("\"\"".utf8), as: UTF8.self)): [null, null]"
        }
        return "{\n  \"features\": {\n" + entries.joined(separator: ",\n") + "\n  }\n}\n"
    }

    /// Parses a schema's JSON text; `source` names it in errors.
    public init(json bytes: [UInt8], source: String) throws(LearningError) {
        let path = source
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)),
            case .object(let entries)? = object["features"], Set(object.keys).isSubset(of: ["features", "classes"])
        else {
            throw LearningError(
                .malformedSchema, "\(path): expected {\"features\": {\"NAME\": [LOW, HIGH], ...}, \"classes\": K}")
        }
        if let declared = object["classes"] {
            guard case .number(let number) = declared, let count = Int(exactly: number),
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
            let description: [String: JSONValue]? = if case .object(let members) = value { members } else { nil }
            guard let pair = (description?["bounds"] ?? value).numbers, pair.count == 2,
                pair[0].isFinite, pair[1].isFinite, pair[0] < pair[1],
                let scale = Self.scale(description?["scale"]),
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

    /// The scale a feature names (linear when it names none); nil for anything but "linear" or "log".
    private static func scale(_ value: JSONValue?) -> Scale? {
        guard let value else { return .linear }
        guard case .string(let name) = value else { return nil }
        return Scale(rawValue: name)
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

/// A JSON value as a schema file holds it, decoded with Foundation's `JSONDecoder` (which FoundationEssentials, all the
/// enclave links, provides): booleans stay apart from numbers, so `"classes": true` is refused.
enum JSONValue: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The array's elements when every one is a number.
    var numbers: [Double]? {
        guard case .array(let elements) = self else { return nil }
        var numbers: [Double] = []
        for case .number(let number) in elements { numbers.append(number) }
        return numbers.count == elements.count ? numbers : nil
    }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let elements): "[" + elements.map(\.description).joined(separator: ", ") + "]"
        case .object(let members):
            "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ") + "}"
        }
    }
}
