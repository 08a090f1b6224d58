import CloisterTestSupport
import Foundation
import FuzzTargets
import Testing

/// Every fuzz target run, without a fuzzer, over its generated seeds, the corpus campaigns kept (`Fuzz/Corpus/NAME`)
/// and every input that once made it fail (`Fuzz/Regressions/NAME`, each fixed at its cause): a regression traps the
/// test process, or breaks a property, here.
@Suite("Fuzz targets over their seeds, corpora and regression inputs")
struct FuzzRegressionTests {
    static let context = Result { try FuzzContext(root: TestEnvironment.packageRoot) }

    @Test("each target takes its seeds, its committed corpus and its regression inputs", arguments: FuzzTarget.allCases)
    func replay(target: FuzzTarget) async throws {
        let context = try Self.context.get()
        var inputs = try target.seeds(context: context).map(\.bytes)
        for folder in ["Fuzz/Corpus", "Fuzz/Regressions"] {
            let directory = TestEnvironment.packageRoot.appendingPathComponent("\(folder)/\(target.rawValue)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                inputs.append(Array(try Data(contentsOf: directory.appendingPathComponent(name))))
            }
        }
        // libFuzzer calls a target on a thread of its own, never on the concurrency pool (the service targets wait
        // there for their handlers), and so does this test.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread { [inputs] in
                for input in inputs { target.run(input, context: context) }
                done.resume()
            }
        }
        #expect(!inputs.isEmpty)
    }

    @Test("a campaign runs every target once, those slow to replay first")
    func campaignOrder() {
        let order = FuzzTarget.campaignOrder
        #expect(Set(order) == Set(FuzzTarget.allCases) && order.count == FuzzTarget.allCases.count)
        let firstFast = order.firstIndex { !$0.replaysSlowly } ?? order.count
        #expect(order[firstFast...].allSatisfy { !$0.replaysSlowly }, "\(order)")
        #expect(order.first == .trainingSpec)
    }
}
