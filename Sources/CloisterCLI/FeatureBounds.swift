import ArgumentParser

/// What a command that trains on a CSV needs to know of its features' scales: their public bounds (`--schema`), or the
/// data owner's word that they are used as they are (`--unscaled`). With neither it refuses before anything runs
/// (exit 64), saying how to write a schema: DP training clips every example's or client's contribution, so features
/// on unknown and different scales give a poor model with no sign of it, and bounds read off the data would leak it.
enum FeatureBounds {
    static func require(schema: String?, unscaled: Bool, data: String, label: String) throws {
        if schema != nil && unscaled { throw ValidationError("give --schema or --unscaled, not both") }
        guard schema == nil && !unscaled else { return }
        throw ValidationError(
            """
            --data \(data) has no --schema. DP training clips every contribution to a fixed norm, so it needs each \
            feature's public bounds (known without looking at the data, e.g. pixels in [0, 255]) to put the features \
            on one scale; without them a dataset whose features differ in magnitude trains a poor model with no \
            warning, and bounds measured on the data would leak it. `cloister dp schema --data \(data) --label \
            \(label) > schema.json` drafts a schema from the header: fill in every feature's bounds, then pass \
            --schema schema.json. If the features are already on comparable scales, pass --unscaled to use them as \
            they are.
            """)
    }
}
