import Foundation

/// Loads a JSON known-answer file from this target's `Vectors/` resources.
func loadVectors<T: Decodable>(_ name: String, as type: T.Type = T.self) throws -> T {
    let url = Bundle.module.url(forResource: "Vectors", withExtension: nil)!.appendingPathComponent(name)
    return try JSONDecoder().decode(T.self, from: Data(contentsOf: url))
}
