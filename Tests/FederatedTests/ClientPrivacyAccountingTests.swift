import CloisterTestSupport
import Federated
import Foundation
import Learning
import Privacy
import Testing

/// The federated client-level cases of Tests/Vectors/reference/dp_epsilons.json (Opacus 1.6.0, dp-accounting 0.6.0), as
/// the aggregator accounts them: q = m/N clients per round, σ = z, one step per round.
@Suite("Client-level privacy accounting against Opacus and dp-accounting")
struct ClientPrivacyAccountingTests {
    struct Case: Decodable, CustomTestStringConvertible {
        let label: String
        let q: Double
        let sigma: Double
        let rounds: Int
        let delta: Double
        let rdp_opacus: Double
        let pld: Double
        var testDescription: String { label }
    }

    static let cases: [Case] = {
        struct File: Decodable { let federated_client_level_cases: [Case] }
        guard
            let file = try? JSONDecoder().decode(
                File.self, from: Data(contentsOf: TestEnvironment.vector("reference/dp_epsilons.json")))
        else { return [] }
        return file.federated_client_level_cases
    }()

    @Test("the reference file is read (else no case below would run)")
    func present() {
        #expect(!Self.cases.isEmpty, "Tests/Vectors/reference/dp_epsilons.json is missing or unreadable")
    }

    @Test("RDP within 1e-6 relative, PLD within 1%", arguments: cases)
    func reference(_ reference: Case) throws {
        // The registry size that makes δ = 1/N, as the reference cases choose δ; m = qN.
        let registered = Int((1 / reference.delta).rounded())
        let perRound = Int((reference.q * Double(registered)).rounded())
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: reference.sigma, clip: 1, delta: reference.delta, clientsPerRound: perRound,
            registeredClients: registered)
        #expect(privacy.samplingRate == reference.q)
        let report = try privacy.report(afterRounds: reference.rounds)
        let rdp = try #require(report.epsilon(by: .rdp))
        let pld = try #require(report.epsilon(by: .pld))
        #expect(abs(rdp - reference.rdp_opacus) / reference.rdp_opacus < 1e-6, "\(rdp)")
        #expect(abs(pld - reference.pld) / reference.pld < 0.01, "\(pld)")
    }
}

/// DP-FedAvg client-level privacy as the code before the accountant protocol gave it, byte for byte: every signed
/// global model carries this report. (The refusal now names the accountant; its ε is the same.
/// The PLD's ε moved in its tenth significant digit when the composition's FFT became a real-input transform of half
/// the length: rounding, not a change of method.)
@Suite("Client-level privacy reports: known answers of the default accountants")
struct ClientPrivacyReportTests {
    @Test("1000 clients, 100 per round, 100 rounds: the report and the budget's refusal")
    func knownAnswers() throws {
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, epsilonBudget: 3, clientsPerRound: 100, registeredClients: 1000)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let report = String(decoding: try encoder.encode(privacy.report(afterRounds: 100)), as: UTF8.self)
        #expect(
            report
                == #"{"delta":0.001,"epsilonPLD":4.784350122790825,"epsilonRDP":5.640520841624448,"noiseMultiplier":1,"#
                + #""rdpOrder":2.8,"samplingRate":0.1,"steps":100}"#)
        let error = #expect(throws: FederationError.self) { try privacy.checkBudget(rounds: 100) }
        #expect(error?.code == .budgetExhausted)
        #expect(
            error?.reason
                == "100 round(s) at noise multiplier 1.0 and sampling rate 0.1 spend epsilon 4.784394026777179 (pld), past the budget of 3.0 at delta 0.001"
        )
    }

    @Test("the report and the budget check take any accountant: PRV's ε by PRV, a refusal by RDP naming it")
    func anyAccountant() throws {
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 1, delta: 1e-3, epsilonBudget: 5, clientsPerRound: 100, registeredClients: 1000)
        let mechanism = try SubsampledGaussian(samplingRate: 0.1, noiseMultiplier: 1)
        let report = try privacy.report(afterRounds: 100, by: [.prv])
        #expect(
            report.epsilon(by: .prv)
                == (try PRVAccountant().composing(mechanism, steps: 100).epsilon(delta: 1e-3.nextDown).nextUp))
        #expect(report.epsilons.count == 1 && report.steps == 100)
        // 100 rounds spend 4.78 by PLD, within the budget of 5, but 5.64 by RDP, past it.
        try privacy.checkBudget(rounds: 100)
        let error = #expect(throws: FederationError.self) { try privacy.checkBudget(rounds: 100, by: .rdp) }
        #expect(error?.code == .budgetExhausted && error?.reason.contains(" (rdp), past the budget of 5.0") == true)
    }
}
