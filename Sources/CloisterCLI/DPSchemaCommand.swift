import ArgumentParser
import Foundation
import Learning

/// `cloister dp schema`: drafts a feature schema from a CSV's header.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Draft a schema of public feature bounds from a CSV's header, to fill in.",
        discussion: """
            Prints {"features": {"NAME": [null, null], ...}} with every column but --label, in the header's order. \
            Replace each [null, null] with the feature's public bounds [LOW, HIGH] (or {"bounds": [LOW, HIGH], \
            "scale": "log"} for heavy-tailed positive quantities), known without looking at the data; optionally add \
            "classes": K. Only the header is read. The draft is refused by --schema until every bound is written. \
            Exit status: 0 drafted, 65 no header or no --label column, 64 bad arguments or an unreadable --data.
            """
    )

    @Option(help: "The CSV file whose header names the features.")
    var data: String

    @Option(help: "The name of the label column (left out of the features).")
    var label: String

    func run() throws {
        try reportingErrors {
            // Validated as training validates it: a header that is not UTF-8 would draft names no CSV can match.
            guard let text = String(validating: try CommandInput.bytes(data, "--data"), as: UTF8.self) else {
                throw LearningError(.malformedData, "\(data): not UTF-8 text")
            }
            print(try FeatureSchema.draft(csv: text, label: label, source: data), terminator: "")
        }
    }
}
