import CloisterTestSupport
import Federated
import Foundation
import Learning
import Privacy
import Testing

/// The federated client-level cases of Tests/Vectors/reference/dp_epsilons.json (Opacus 1.6.0, dp-accounting 0.6.0):
/// q = m/N clients per round, σ = z, one step per round, amplified by sampling. A federation whose cohorts stayed secret
/// would spend this; Cloister's cohorts are published, so its models report the unamplified figure
/// (`ClientLevelPrivacy`), but the cases still check the accountants and the rate the enclave samples at.
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
        let report = try PrivacyReport(
            SubsampledGaussian(samplingRate: privacy.samplingRate, noiseMultiplier: reference.sigma),
            steps: reference.rounds, delta: reference.delta)
        let rdp = try #require(report.epsilon(by: .rdp))
        let pld = try #require(report.epsilon(by: .pld))
        #expect(abs(rdp - reference.rdp_opacus) / reference.rdp_opacus < 1e-6, "\(rdp)")
        #expect(abs(pld - reference.pld) / reference.pld < 0.01, "\(pld)")
    }
}

/// What a signed global model reports: the most-sampled client's rounds as the Gaussian mechanism composed that many
/// times, unamplified, against the Gaussian mechanism's exact ε (`exactGaussianEpsilon`).
@Suite("Client-level privacy reports: the unamplified Gaussian mechanism")
struct ClientPrivacyReportTests {
    @Test("K rounds of one client, whatever q: the PLD's ε within 1e-3 of the exact Gaussian ε, RDP above it")
    func unamplified() throws {
        for (z, rounds) in [(0.8, 1), (1.0, 5), (1.0, 20), (2.0, 50)] {
            let privacy = try ClientLevelPrivacy(
                noiseMultiplier: z, clip: 1, delta: 1e-3, clientsPerRound: 100, registeredClients: 1000)
            let report = try privacy.report(participations: rounds)
            let exact = exactGaussianEpsilon(noiseMultiplier: z, compositions: rounds, delta: 1e-3)
            let pld = try #require(report.epsilon(by: .pld))
            let rdp = try #require(report.epsilon(by: .rdp))
            #expect(pld >= exact && (pld - exact) / exact < 1e-3, "z \(z), \(rounds) rounds: \(pld), exact \(exact)")
            #expect(rdp >= pld, "z \(z), \(rounds) rounds")
            #expect(report.samplingRate == 1 && report.steps == rounds)
        }
    }

    @Test("the report and the budget check take any accountant: PRV's ε by PRV, a refusal by RDP naming it")
    func anyAccountant() throws {
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 2, clip: 1, delta: 1e-3, epsilonBudget: 6, clientsPerRound: 100, registeredClients: 1000)
        let mechanism = try SubsampledGaussian(samplingRate: 1, noiseMultiplier: 2)
        let report = try privacy.report(participations: 10, by: [.prv])
        #expect(
            report.epsilon(by: .prv)
                == (try PRVAccountant().composing(mechanism, steps: 10).epsilon(delta: 1e-3.nextDown).nextUp))
        #expect(report.epsilons.count == 1 && report.steps == 10)
        // z = 2, 10 rounds: the exact ε is 5.587 (SciPy, the same formula), within the budget of 6 by PLD; RDP's
        // looser 6.24 is past it.
        #expect(abs(exactGaussianEpsilon(noiseMultiplier: 2, compositions: 10, delta: 1e-3) - 5.587133) < 1e-5)
        try privacy.checkBudget(participations: 10)
        let error = #expect(throws: FederationError.self) { try privacy.checkBudget(participations: 10, by: .rdp) }
        #expect(error?.code == .budgetExhausted)
        #expect(
            error?.reason.hasPrefix("a client sampled into 10 round(s) at noise multiplier 2.0 spends epsilon ") == true
                && error?.reason.contains(
                    " (rdp; the cohorts are published, so sampling does not amplify), past the budget of 6.0 at delta 0.001"
                ) == true,
            "\(error?.reason ?? "")")
        // The limit is the largest count within the budget.
        let limit = try #require(try privacy.participationLimit())
        try privacy.checkBudget(participations: limit)
        #expect(throws: FederationError.self) { try privacy.checkBudget(participations: limit + 1) }
    }
}
