import Attestation
import Foundation

/// The OpenAPI 3 description of `VerifierRoutes`, served at `/openapi.json`: `Resources/openapi.json` with what the
/// evidence format registry decides filled in, so the document always lists the formats the service reads. Every
/// request body marked `x-cloister-evidence-formats` takes the formats' media types and the generic ones
/// (`VerifierRoutes.detectedEvidenceMediaTypes`), and a result's `format` is one of the formats' names. The tests
/// check that every route answers as described.
enum OpenAPIDocument {
    static let json: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
            let data = try? Data(contentsOf: url),
            let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let filled = try? JSONSerialization.data(
                withJSONObject: filling(document, from: .standard), options: [.sortedKeys, .withoutEscapingSlashes])
        else {
            return Array(
                #"{"openapi": "3.0.3", "info": {"title": "missing resource", "version": "0"}, "paths": {}}"#.utf8)
        }
        return Array(filled)
    }()

    /// `document` with the evidence media types and format names of `registry`.
    private static func filling(_ document: [String: Any], from registry: EvidenceFormatRegistry) -> [String: Any] {
        var document = document
        let binary: [String: Any] = ["schema": ["type": "string", "format": "binary"]]
        let content = Dictionary(
            uniqueKeysWithValues: (registry.mediaTypes + VerifierRoutes.detectedEvidenceMediaTypes).map { ($0, binary) }
        )
        var paths = document["paths"] as? [String: Any] ?? [:]
        for (path, item) in paths {
            guard var operations = item as? [String: Any] else { continue }
            for (method, operation) in operations {
                guard var operation = operation as? [String: Any],
                    var body = operation["requestBody"] as? [String: Any],
                    body["x-cloister-evidence-formats"] as? Bool == true
                else { continue }
                body["content"] = content
                operation["requestBody"] = body
                operations[method] = operation
            }
            paths[path] = operations
        }
        document["paths"] = paths
        var components = document["components"] as? [String: Any] ?? [:]
        var schemas = components["schemas"] as? [String: Any] ?? [:]
        var result = schemas["Result"] as? [String: Any] ?? [:]
        var properties = result["properties"] as? [String: Any] ?? [:]
        var format = properties["format"] as? [String: Any] ?? [:]
        format["enum"] = registry.formats.map(\.rawValue)
        properties["format"] = format
        result["properties"] = properties
        schemas["Result"] = result
        components["schemas"] = schemas
        document["components"] = components
        return document
    }
}
