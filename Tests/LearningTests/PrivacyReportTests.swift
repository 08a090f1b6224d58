import Foundation
import Learning
import Privacy
import Testing

/// DP-SGD privacy reports as the code before the accountant protocol gave them, byte for byte: the signed results
/// and `--model-out` files carry this JSON, and clients compare it with what they compute themselves. (The refusal
/// now names the accountant; its ε is the same.
/// The PLD's ε moved in its tenth significant digit when the composition's FFT became a real-input transform of half
/// the length: rounding, not a change of method.)
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
                == #"{"delta":1e-05,"epsilonPLD":8.102919705611008,"epsilonRDP":8.967104751197988,"noiseMultiplier":1,"#
                + #""preprocessingNoiseMultiplier":20,"rdpOrder":3.1,"samplingRate":0.07032967032967034,"steps":280}"#)
        let some = try Self.json(plan.privacy(afterSteps: 100))
        #expect(
            some
                == #"{"delta":1e-05,"epsilonPLD":4.932660219000127,"epsilonRDP":5.5988227095428,"noiseMultiplier":1,"#
                + #""preprocessingNoiseMultiplier":20,"rdpOrder":3.9,"samplingRate":0.07032967032967034,"steps":100}"#)
    }

    @Test("a plan without centring")
    func uncentred() throws {
        let report = try Self.json(CentringTests.plan(centring: nil).privacy())
        #expect(
            report
                == #"{"delta":1e-05,"epsilonPLD":8.099127872942097,"epsilonRDP":8.963229751197987,"noiseMultiplier":1,"#
                + #""rdpOrder":3.1,"samplingRate":0.07032967032967034,"steps":280}"#)
    }

    @Test("calibration to ε = 1 and the budget's refusal")
    func calibrationAndBudget() throws {
        let sigma = try CentringTests.plan().calibrated(toEpsilon: 1).noiseMultiplier
        #expect(sigma == 4.61362342663586)
        let error = #expect(throws: PrivacyError.self) { try CentringTests.plan(sigma: 0.5).checkBudget(1) }
        #expect(
            error?.reason
                == "280 steps at noise multiplier 0.5 and sampling rate 0.07032967032967034 spend epsilon 39.59936623852581 (pld), past the budget of 1.0 at delta 1e-05"
        )
    }

    @Test("an encoded report of the default accountants decodes to the report the plan gives")
    func decodesKnownAnswer() throws {
        let encoded =
            #"{"delta":1e-05,"epsilonPLD":8.102919705611008,"epsilonRDP":8.967104751197988,"noiseMultiplier":1,"#
            + #""preprocessingNoiseMultiplier":20,"rdpOrder":3.1,"samplingRate":0.07032967032967034,"steps":280}"#
        let decoded = try JSONDecoder().decode(PrivacyReport.self, from: Data(encoded.utf8))
        #expect(decoded == (try CentringTests.plan().privacy()))
        #expect(decoded.epsilons.map(\.accountant) == [.rdp, .pld] && decoded.epsilons[0].order == 3.1)
    }
}

@Suite("Privacy reports, budgets and calibration by any accountant")
struct AnyAccountantReportTests {
    @Test("a report by PRV gives PRV's ε, labelled and encoded under epsilonPRV, and decodes back equal")
    func byPRV() throws {
        let plan = try CentringTests.plan()
        let report = try plan.privacy(by: [.prv])
        // The continuous accountant's ε at the next δ down, one unit in the last place up (`Accountant.epsilon`).
        let expected = try PRVAccountant().composing(SubsampledGaussian(samplingRate: 1, noiseMultiplier: 20), steps: 1)
            .composing(plan.mechanism, steps: plan.steps).epsilon(delta: plan.delta.nextDown).nextUp
        #expect(report.epsilons == [AccountedEpsilon(accountant: .prv, epsilon: expected)])
        #expect(report.epsilon(by: .prv) == expected && report.epsilon(by: .pld) == nil)
        let json = try PrivacyReportTests.json(report)
        #expect(json.contains(#""epsilonPRV":\#(expected)"#), "\(json)")
        #expect(!json.contains("epsilonPLD") && !json.contains("epsilonRDP") && !json.contains("rdpOrder"))
        #expect(try JSONDecoder().decode(PrivacyReport.self, from: Data(json.utf8)) == report)
        // A trained model (what a signed result and --model-out carry) keeps it through its JSON.
        let trained = TrainedModel(
            model: try Model(kind: .logistic, featureCount: 2, classCount: 2), featureNames: ["a", "b"], plan: plan,
            privacy: try plan.privacy(by: [.rdp, .prv]))
        let reopened = try TrainedModel(json: trained.encoded())
        #expect(reopened == trained && reopened.privacy.epsilons.map(\.accountant) == [.rdp, .prv])
    }

    @Test("accountants are counted once each in a fixed order, whatever order they are asked in; none is refused")
    func accountantsNormalised() throws {
        let plan = try CentringTests.plan(centring: nil)
        #expect(try plan.privacy(by: [.pld, .rdp, .pld]) == plan.privacy())
        let tightest = try plan.privacy().tightestFirst.map(\.accountant)
        #expect(tightest == [.pld, .rdp])
        let error = #expect(throws: PrivacyError.self) { try plan.privacy(by: []) }
        #expect(error?.reason == "a privacy report needs at least one accountant")
    }

    @Test("a report giving no ε, or RDP's without its order, is refused when decoded")
    func decodingRefusals() throws {
        for encoded in [
            #"{"delta":1e-05,"noiseMultiplier":1,"samplingRate":0.1,"steps":10}"#,
            #"{"delta":1e-05,"epsilonRDP":1.5,"noiseMultiplier":1,"samplingRate":0.1,"steps":10}"#,
        ] {
            #expect(throws: DecodingError.self, "\(encoded)") {
                try JSONDecoder().decode(PrivacyReport.self, from: Data(encoded.utf8))
            }
        }
    }

    @Test("the budget check and calibration take any accountant, and a refusal names it")
    func budgetAndCalibration() throws {
        let error = #expect(throws: PrivacyError.self) { try CentringTests.plan(sigma: 0.5).checkBudget(1, by: .rdp) }
        #expect(error?.code == .budgetExceeded && error?.reason.contains(" (rdp), past the budget of 1.0") == true)
        let byRDP = try CentringTests.plan().calibrated(toEpsilon: 1, by: .rdp)
        let spent = try #require(byRDP.privacy(by: [.rdp]).epsilon(by: .rdp))
        #expect(spent <= 1 && spent > 0.99, "\(spent)")
        // RDP is looser than PLD, so it needs more noise than the PLD calibration (4.6136…) for the same ε.
        #expect(byRDP.noiseMultiplier > 4.61362342663586)
        try byRDP.checkBudget(1, by: .rdp)
    }
}
