import Foundation

/// The OpenAPI 3 description of `VerifierRoutes` (`Resources/openapi.json`), served at `/openapi.json`. The tests
/// check that every route answers as described.
enum OpenAPIDocument {
    static let json: String = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return #"{"openapi": "3.0.3", "info": {"title": "missing resource", "version": "0"}, "paths": {}}"# }
        return text
    }()
}
