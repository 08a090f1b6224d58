import ArgumentParser
import Foundation
import Learning

/// The training data of every command that trains on a CSV (`dp train`, `dp audit`, `fl simulate`, `fl client`): the
/// file, its label column, and what the command needs to know of its features' scales: their public bounds
/// (`--schema`), or the data owner's word that they are used as they are (`--unscaled`). With neither it refuses
/// before anything runs (exit 64), saying how to write a schema: DP training clips every example's or client's
/// contribution, so features on unknown and different scales give a poor model with no sign of it, and bounds read
/// off the data would leak it.
struct DatasetOptions: ParsableArguments {
    @Option(help: "The CSV file: a header row, numeric features, an integer class label column.")
    var data: String

    @Option(help: "The name of the label column.")
    var label: String

    @Option(help: "A JSON file of public feature bounds (see Datasets/README.md; `cloister dp schema` drafts one).")
    var schema: String?

    @Flag(help: "Use the features as they are, without a schema (they are already on comparable scales).")
    var unscaled = false

    func validate() throws {
        if schema != nil && unscaled { throw ValidationError("give --schema or --unscaled, not both") }
        guard schema == nil && !unscaled else { return }
        throw ValidationError(
            """
            --data \(data) has no --schema. DP training clips every contribution to a fixed norm, so it needs each \
            feature's public bounds (known without looking at the data, e.g. pixels in [0, 255]) to put the features \
            on one scale; without them a dataset whose features differ in magnitude trains a poor model with no \
            warning, and bounds measured on the data would leak it. `cloister dp schema --data \(Self.quoted(data)) \
            --label \(Self.quoted(label)) > schema.json` drafts a schema from the header: fill in every feature's \
            bounds, then pass \
            --schema schema.json. If the features are already on comparable scales, pass --unscaled to use them as \
            they are.
            """)
    }

    /// `text` as one shell word: as it is when it holds only safe characters, else in single quotes.
    static func quoted(_ text: String) -> String {
        let safe = text.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                || "._/-+:,=@".unicodeScalars.contains($0)
        }
        return safe && !text.isEmpty ? text : "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }
}

/// How `dp train` and `dp audit` prepare a run before its steps: the private feature centre and the seeded split.
struct PreparationOptions: ParsableArguments {
    @Option(
        parsing: .unconditional, help: "Noise multiplier of the private feature centre released before the first step.")
    var centringNoise = DPSGDPlan.defaultCentringNoise

    @Flag(help: "Train on the features uncentred (no centre released, nothing spent on one).")
    var noCentring = false

    @Option(parsing: .unconditional, help: "Fraction of the examples held out for testing.")
    var testFraction = 0.2

    @Option(
        parsing: .unconditional,
        help: "Seed of the train/test split and the initial weights (not of the privacy noise).")
    var seed: UInt64 = 0

    /// The centre's noise multiplier, nil without a centre.
    var centring: Double? { noCentring ? nil : centringNoise }

    func validate() throws {
        guard centringNoise > 0, centringNoise.isFinite else {
            throw ValidationError("--centring-noise must be positive, got \(centringNoise)")
        }
        guard testFraction > 0, testFraction < 1 else {
            throw ValidationError("--test-fraction must be in (0, 1), got \(testFraction)")
        }
    }
}
