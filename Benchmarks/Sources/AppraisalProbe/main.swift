// Measures the appraisal library for `scripts/bench-verifier` (issue 4): Cloister quotes appraised per second on
// one core, with the certificate chain cached (the evidence stage then checks one COSE signature), with and
// without signing the EAR, for ES256 and ES384 platforms, and the service's JSON reply. Output: one line per
// figure, `name value unit`. Naming a figure measures only that one (to profile it).
//
// usage: AppraisalProbe [SECONDS_PER_PROBE [FIGURE]]
import Attestation
import CloisterCrypto
import EnclavePlatform
import EnclaveProtocol
import Foundation
import ProbeSupport
import Verifier

let probe = ProbeArguments()

for (name, curve) in [("es256", ECCurve.p256), ("es384", .p384)] {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-appraisal-\(UUID())")
    defer { try? FileManager.default.removeItem(at: directory) }
    let platform = try Platform.initialize(home: PlatformHome(path: directory.path), curve: curve)
    let record = try EnclaveRecord(
        enclaveID: "0000000000000001",
        identity: EnclaveIdentity(
            measurement: [UInt8](repeating: 7, count: 48), signer: [UInt8](repeating: 8, count: 48), productID: 1,
            svn: 1, debug: false),
        canonicalManifest: [1], mechanisms: [.landlock], platformID: platform.platformID,
        tcbLevel: platform.tcbLevel, backingStoreDirectory: "/nonexistent")
    let nonce = [UInt8](repeating: 0x42, count: 32)
    let quote = try platform.quote(for: record, binding: QuoteBinding(nonce: nonce))
    let trust = TrustStore(
        cloisterRoots: [platform.rootCertificate], cloisterRevocationLists: platform.revocationLists,
        tcbStatusLists: [platform.tcbStatusList])
    let policy = Policy(id: "bench", measurements: [hexEncoded(record.identity.measurement)], allowSimulated: true)
    let appraiser = Appraiser(
        evidence: EvidenceVerifier(trust: trust, cache: EvidenceCache()),
        signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "bench"))
    let now = Date()
    guard appraiser.evaluate(quote, policy: policy, expectedNonce: nonce, at: now).status == .affirming else {
        fatalError("the benchmark quote is not affirmed")
    }
    probe.measure("appraise-\(name)-cached") {
        _ = appraiser.evaluate(quote, policy: policy, expectedNonce: nonce, at: now)
    }
    try probe.measure("appraise-\(name)-cached-with-ear") {
        _ = try appraiser.appraise(quote, policy: policy, expectedNonce: nonce, at: now)
    }
    // The service's reply: the signed result as JSON, sorted keys (what `POST /v1/verify` answers).
    let result = try appraiser.appraise(quote, policy: policy, expectedNonce: nonce, at: now)
    try probe.measure("result-json-\(name)") { _ = try CompactJSONEncoder(sortedKeys: true).encode(result) }
}
