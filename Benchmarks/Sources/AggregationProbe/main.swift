// Measures the fedavg aggregator enclave for scripts/bench-aggregation: COUNT client updates of WIDTH float32
// parameters, each sealed with HPKE and signed by its client beforehand (not timed), then submitted through the ECALL
// channel in batches as the host relays them (HPKE open, signature check, validation on every core) and aggregated
// (FedAvg) inside the enclave, then the round closed: the timed part, ROUNDS times (fresh updates each round). Prints
// `name value` lines: updates, parameters, seconds (the median round), seconds_each, bytes_per_second (plaintext
// parameter bytes in the median round), the enclave's peak resident memory (VmHWM, KiB), and channel_seconds: the
// median time the same batches take only to cross into the enclave (each the argument of `fedavg.descriptor`, which
// ignores it), the floor that the process boundary sets. With `dp`, the rounds are DP-FedAvg's (every client each round,
// z = 1, C = 1, δ = 1/COUNT): each update clipped and put on the grid, the sum released with exact discrete Gaussian
// noise, and the client-level ε of the rounds so far computed for the signed model.
// Usage: AggregationProbe [COUNT] [WIDTH] [ROUNDS] [dp]   (defaults 100, 1000000, 5, FedAvg without DP)
import Attestation
import CloisterCBOR
import CloisterCrypto
import ConfidentialProtocol
import EnclaveProtocol
import EnclaveWorkbench
import Federated
import Foundation
import Learning
import RelyingParty
import Verifier

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) ?? 100 : 100
let width = arguments.count > 2 ? Int(arguments[2]) ?? 1_000_000 : 1_000_000
let rounds = arguments.count > 3 ? Int(arguments[3]) ?? 5 : 5
let privacy =
    arguments.count > 4 && arguments[4] == "dp"
    ? try ClientLevelPrivacy(
        noiseMultiplier: 1, clip: 1, delta: 1 / Double(count), clientsPerRound: count, registeredClients: count)
    : nil
precondition(
    count > 0 && width >= 20 && width % 10 == 0 && rounds > 0, "COUNT > 0, WIDTH a multiple of 10, ROUNDS > 0")

let workbench = try EnclaveWorkbench(
    manifest: """
        [loader]
        entrypoint = "builtin:fedavg"

        [enclave]
        name = "fedavg-bench"
        size = "1M"
        product_id = 3
        svn = 1

        [enclave.regions]
        scratch = "64K"

        """)
defer { workbench.remove() }
let enclave = try workbench.launchEnclave()
let caller = EnclaveCaller(channel: enclave.host)
let names = (0..<count).map { "client-\($0)" }
let keys = try names.map { _ in try ECPrivateKey(generating: .p256) }
let config = FederationConfig(
    plan: try FederationPlan(
        clients: names, rounds: rounds, minClients: count, roundTimeout: 3600, strategy: .fedAvg, privacy: privacy),
    clientKeys: Dictionary(uniqueKeysWithValues: zip(names, keys.map { hexEncoded($0.publicKey.derRepresentation) })),
    // Softmax over WIDTH/10 − 1 features and 10 classes: exactly WIDTH parameters.
    model: ModelSpec(kind: .softmax, featureCount: width / 10 - 1, classCount: 10))
_ = try caller.call(FederationCall.begin, Array(JSONEncoder().encode(config)))

let appraiser = Appraiser(
    evidence: EvidenceVerifier(trust: try workbench.platform.home.publishedTrust().trustStore),
    signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "bench"))
let policy = Policy(
    id: "bench", measurements: [hexEncoded(workbench.manifest.measurement.bytes)], allowSimulated: true,
    maximumAgeSeconds: 300)
var generator = SplitMix64(seed: 1)
var clients: [(FederationClient, FederationClient.Session)] = []
for (name, key) in zip(names, keys) {
    let client = FederationClient(
        transport: { try caller.call($0, $1) }, appraiser: appraiser, policy: policy, clientID: name, signingKey: key)
    clients.append((client, try await client.join()))
}

var times: [Double] = []
var crossings: [Double] = []
let clock = ContinuousClock()
func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}
for round in 1...rounds {
    let sealed = try clients.map { client, session in
        let parameters = (0..<width).map { _ in Float.random(in: -1...1, using: &generator) }
        return try client.sealedUpdate(parameters, exampleCount: 10, round: round, in: session).message
    }
    // As the host relays updates that queue while the enclave is busy: in batches up to the batch bounds, each
    // opened on every core inside the enclave.
    var batches: [[[UInt8]]] = [[]]
    var batchBytes = 64
    for message in sealed {
        if batchBytes + message.count + 16 > FederationCall.maximumBatchSize
            || batches[batches.count - 1].count == FederationCall.maximumBatchCount
        {
            batches.append([])
            batchBytes = 64
        }
        batches[batches.count - 1].append(message)
        batchBytes += message.count + 16
    }
    let batchArguments = try batches.map { try CBORValue.array($0.map { .bytes($0) }).encoded() }
    let start = clock.now
    for (batch, argument) in zip(batches, batchArguments) {
        let outcomes = try BatchOutcome.decoded(caller.call(FederationCall.submitBatch, argument), count: batch.count)
        for outcome in outcomes {
            guard case .receipt = outcome else { fatalError("an update was refused: \(outcome)") }
        }
    }
    _ = try caller.call(FederationCall.close)
    times.append(seconds(start.duration(to: clock.now)))
    let crossing = clock.now
    for argument in batchArguments { _ = try caller.call(FederationCall.descriptor, argument) }
    crossings.append(seconds(crossing.duration(to: clock.now)))
}
let median = times.sorted()[times.count / 2]

let status = (try? String(contentsOfFile: "/proc/\(enclave.process.pid)/status", encoding: .utf8)) ?? ""
let peak =
    status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }?.split(separator: " ").dropFirst().first ?? "0"
enclave.host.shutdown()
_ = try enclave.wait()
print("updates \(count)")
print("parameters \(width)")
print("seconds \(median)")
print("seconds_each \(times.map { String(format: "%.3f", $0) }.joined(separator: ","))")
print("bytes_per_second \(Double(count * width * 4) / median)")
print("channel_seconds \(crossings.sorted()[crossings.count / 2])")
print("peak_kib \(peak)")
