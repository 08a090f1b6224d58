import Foundation
import Learning
import Privacy
import Testing

/// DP-SGD privacy reports as the code before the accountant protocol gave them, byte for byte: the signed results
/// and `--model-out` files carry this JSON, and clients compare it with what they compute themselves.
@Suite("DP-SGD privacy reports: known answers of the default accountants")
struct PrivacyReportTests {
    static func json(_ report: PrivacyReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    @Test("a centred plan's report, after all its steps and after 100")
    func centred() throws {
        let plan = try CentringTests.plan()
        let all = try Self.json(plan.privacy())
        #expect(
            all
                == #"{"delta":1e-05,"epsilonPLD":8.10291970649205,"epsilonRDP":8.967104751197986,"noiseMultiplier":1,"#
                + #""preprocessingNoiseMultiplier":20,"rdpOrder":3.1,"samplingRate":0.07032967032967033,"steps":280}"#)
        let some = try Self.json(plan.privacy(afterSteps: 100))
        #expect(
            some
                == #"{"delta":1e-05,"epsilonPLD":4.932660219086972,"epsilonRDP":5.598822709542799,"noiseMultiplier":1,"#
                + #""preprocessingNoiseMultiplier":20,"rdpOrder":3.9,"samplingRate":0.07032967032967033,"steps":100}"#)
    }

    @Test("a plan without centring")
    func uncentred() throws {
        let report = try Self.json(CentringTests.plan(centring: nil).privacy())
        #expect(
            report
                == #"{"delta":1e-05,"epsilonPLD":8.099127874375942,"epsilonRDP":8.963229751197986,"noiseMultiplier":1,"#
                + #""rdpOrder":3.1,"samplingRate":0.07032967032967033,"steps":280}"#)
    }

    @Test("calibration to ε = 1 and the budget's refusal")
    func calibrationAndBudget() throws {
        let sigma = try CentringTests.plan().calibrated(toEpsilon: 1).noiseMultiplier
        #expect(sigma == 4.613624572753906)
        let error = #expect(throws: PrivacyError.self) { try CentringTests.plan(sigma: 0.5).checkBudget(1) }
        #expect(
            error?.reason
                == "280 steps at noise multiplier 0.5 and sampling rate 0.07032967032967033 spend epsilon 39.59936623365479, past the budget of 1.0 at delta 1e-05"
        )
    }
}
