// Measures Intel DCAP appraisal for `scripts/bench-dcap`: the real SGX (v3) and TDX (v4) vectors appraised per
// second on one core at 2025-07-01, when their collateral is current, under a policy that accepts what Intel's
// collateral says of them (the SGX quote's ConfigurationAndSWHardeningNeeded with its two advisories: a warning; the
// TDX quote's UpToDate: affirming). With the evidence cache warm, an appraisal checks the quote's two signatures
// (attestation key, QE report) and reads the quote; without it, it also parses and verifies the PCK chain, parses
// the collateral JSON and verifies its signatures and CRLs. Output: one line per figure, `name value unit`. Naming
// a figure measures only that one (to profile it). Reads the vectors from Tests/Vectors/testvectors/sgx under the
// current directory (the repository root).
//
// usage: DCAPProbe [SECONDS_PER_PROBE [FIGURE]]
import Attestation
import CloisterCrypto
import Foundation
import ProbeSupport
import Verifier

let probe = ProbeArguments()
let verifyAt = Date(timeIntervalSince1970: 1_751_328_000)  // 2025-07-01T00:00:00Z

func vector(_ name: String) -> [UInt8] { vectorBytes("Tests/Vectors/testvectors/sgx", name) }

let intelRoot = try X509Certificate.certificates(
    fromPEM: String(decoding: vector("intel-sgx-root-ca.pem"), as: UTF8.self))
let signer = try ResultSigner(key: ECPrivateKey(generating: .p256), build: "bench")
let cases: [(name: String, format: EvidenceFormat, expected: AppraisalStatus, policy: String)] = [
    (
        "sgx", .sgx, .warning,
        #"""
        acceptable_tcb_statuses = ["up-to-date", "configuration-and-sw-hardening-needed"]
        allowed_advisory_ids = ["INTEL-SA-00289", "INTEL-SA-00615"]
        """#
    ),
    ("tdx", .tdx, .affirming, #"acceptable_tcb_statuses = ["up-to-date"]"#),
]

for vectorCase in cases {
    let quote = vector("\(vectorCase.name)_quote")
    let trust = TrustStore([
        vectorCase.format: TrustStore.FormatTrust(
            roots: intelRoot, collateral: [vector("\(vectorCase.name)_quote_collateral.json")])
    ])
    let cached = Appraiser(evidence: EvidenceVerifier(trust: trust, cache: EvidenceCache()), signer: signer)
    let uncached = Appraiser(evidence: EvidenceVerifier(trust: trust), signer: signer)
    guard let measurement = cached.evidence.verify(quote, at: verifyAt).claims?.measurement else {
        fatalError("the \(vectorCase.name) vector does not decode")
    }
    let policy = try Policy(
        text: "id = \"bench\"\nmeasurements = [\"\(measurement)\"]\n\(vectorCase.policy)\n")
    for appraiser in [cached, uncached] {
        let result = appraiser.evaluate(quote, policy: policy, expectedNonce: nil, at: verifyAt)
        guard result.status == vectorCase.expected else {
            fatalError(
                "the \(vectorCase.name) vector is \(result.status), not \(vectorCase.expected): "
                    + "\(result.checks.filter { !$0.passed })")
        }
    }
    probe.measure("dcap-\(vectorCase.name)-appraise-cached") {
        _ = cached.evaluate(quote, policy: policy, expectedNonce: nil, at: verifyAt)
    }
    if vectorCase.format == .tdx {
        probe.measure("dcap-tdx-appraise-uncached") {
            _ = uncached.evaluate(quote, policy: policy, expectedNonce: nil, at: verifyAt)
        }
    }
}
