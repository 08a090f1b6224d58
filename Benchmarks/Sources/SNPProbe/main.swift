// Measures AMD SEV-SNP verification for `scripts/bench-snp`: the trustee Milan report verified per second on one
// core at 2025-06-01 under AMD's Milan chain with its VCEK, the evidence cache warm (the VCEK-ASK-ARK chain verified
// once; each verification then checks the report's ECDSA P-384 signature, reads the report and binds the VCEK's TCB),
// as the evidence stage alone and as a whole appraisal. Output: one line per figure, `name value unit`. Naming a
// figure measures only that one (to profile it). Reads the vectors from Tests/Vectors/testvectors/snp under the
// current directory (the repository root).
//
// usage: SNPProbe [SECONDS_PER_PROBE [FIGURE]]
import Attestation
import CloisterCrypto
import Foundation
import ProbeSupport
import Verifier

let probe = ProbeArguments()
let verifyAt = Date(timeIntervalSince1970: 1_748_736_000)  // 2025-06-01T00:00:00Z

func vector(_ name: String) -> [UInt8] { vectorBytes("Tests/Vectors/testvectors/snp", name) }

let milanReport = vector("trustee-milan-report.bin")
let chain = try X509Certificate.certificates(
    fromPEM: String(decoding: vector("milan_ask_ark_asvk.pem"), as: UTF8.self))
let trust = TrustStore([
    .snp: TrustStore.FormatTrust(
        roots: chain.filter(\.isSelfSigned),
        collateral: chain.filter { !$0.isSelfSigned }.map(\.derRepresentation) + [vector("trustee-milan-vcek.der")])
])
let evidence = EvidenceVerifier(trust: trust, cache: EvidenceCache())
guard let claims = evidence.verify(milanReport, at: verifyAt).claims, evidence.verify(milanReport, at: verifyAt).passed
else {
    fatalError("the trustee Milan report does not verify")
}
let appraiser = Appraiser(
    evidence: evidence, signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "bench"))
let policy = Policy(id: "bench", measurements: [claims.measurement])
guard appraiser.evaluate(milanReport, policy: policy, at: verifyAt).status == .affirming else {
    fatalError("the trustee Milan report is not affirmed")
}
probe.measure("snp-verify-cached") { _ = evidence.verify(milanReport, at: verifyAt) }
probe.measure("snp-appraise-cached") { _ = appraiser.evaluate(milanReport, policy: policy, at: verifyAt) }
