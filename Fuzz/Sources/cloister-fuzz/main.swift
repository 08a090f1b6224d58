import CFuzzerDriver
import Foundation
import FuzzTargets

// libFuzzer's driver over one Cloister fuzz target: `CLOISTER_FUZZ_TARGET` names it (`FuzzTarget`'s raw values),
// `CLOISTER_FUZZ_ROOT` the checkout whose vectors and manifests the targets read (default: the working directory).
// With `CLOISTER_FUZZ_WRITE_SEEDS=DIR` it writes the target's seeds to DIR and exits, so that `scripts/fuzz` starts
// each campaign from them. `CLOISTER_FUZZ_TARGET=list` prints the targets in the order a campaign runs them
// (`FuzzTarget.campaignOrder`), one a line, each followed by ` stateful` when its harness keeps state across inputs
// (`FuzzTarget.keepsState`), and exits. Every other argument is libFuzzer's.

private func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("cloister-fuzz: \(message)\n".utf8))
    exit(64)
}

let environment = ProcessInfo.processInfo.environment
let targetNames = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
if environment["CLOISTER_FUZZ_TARGET"] == "list" {
    for target in FuzzTarget.campaignOrder {
        print(target.keepsState ? "\(target.rawValue) stateful" : target.rawValue)
    }
    exit(0)
}
guard let name = environment["CLOISTER_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
    fail("CLOISTER_FUZZ_TARGET must name a target: \(targetNames)")
}
let root = URL(fileURLWithPath: environment["CLOISTER_FUZZ_ROOT"] ?? FileManager.default.currentDirectoryPath)
let context: FuzzContext
do {
    context = try FuzzContext(root: root)
    if let directory = environment["CLOISTER_FUZZ_WRITE_SEEDS"] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (index, seed) in try target.seeds(context: context).enumerated() {
            try Data(seed.bytes).write(to: URL(fileURLWithPath: directory).appendingPathComponent("seed-\(index)"))
        }
        exit(0)
    }
} catch {
    fail("cannot set up fuzz target \(name) from \(root.path): \(error)")
}

/// The target and its context, read by the C callback libFuzzer calls (which captures nothing).
nonisolated(unsafe) let selected = (target: target, context: context)

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(
    LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        selected.target.run(Array(UnsafeBufferPointer(start: data, count: size)), context: selected.context)
        return 0
    })
