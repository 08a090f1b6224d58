// Measures noise samplers for scripts/bench-noise: exact discrete Gaussian samples (DiscreteGaussian) per second
// at σ = 1, 1,000 and 2²⁰ (the grid scale of a release at γ = σC·2⁻²⁰), and Box–Muller normals (GaussianSampler) per
// second, each drawing from OpenSSL's DRBG through BufferedSecureRandom; then σ = 2²⁰ from the keyed AES-CTR stream
// DP-SGD's steps draw from (KeyedRandomStream), the two sources' own 64-bit words per second, the floor under
// every sampler, and the sampler's tables built per second (its start-up for a new variance). Prints `name rate op/s`
// lines.
// Usage: NoiseProbe [SECONDS_PER_FIGURE [FIGURE]]
import CloisterCrypto
import Learning
import Privacy
import ProbeSupport

let arguments = ProbeArguments()
let batch = 1_000
for (name, variance) in [
    ("discrete-gaussian-sigma-1", UInt64(1)), ("discrete-gaussian-sigma-1000", 1_000_000),
    ("discrete-gaussian-sigma-2^20", 1 << 40),
] {
    let noise = try DiscreteGaussian(varianceNumerator: variance, varianceDenominator: 1)
    var source = BufferedSecureRandom()
    var sink: Int64 = 0
    guard arguments.only == nil || arguments.only == name else { continue }
    let rate = rate(seconds: arguments.seconds) { sink &+= noise.samples(count: batch, using: &source).reduce(0, &+) }
    report(name, rate * Double(batch), "op/s")
    precondition(sink != .min)
}
var normals = GaussianSampler(source: BufferedSecureRandom())
var total = 0.0
if arguments.only == nil || arguments.only == "box-muller" {
    let rate = rate(seconds: arguments.seconds) { for _ in 0..<batch { total += normals.next() } }
    report("box-muller", rate * Double(batch), "op/s")
}
precondition(total.isFinite)
let streamKey = [UInt8](repeating: 1, count: 32)
if arguments.only == nil || arguments.only == "discrete-gaussian-sigma-2^20-keyed-stream" {
    let noise = try DiscreteGaussian(varianceNumerator: 1 << 40, varianceDenominator: 1)
    var source = try KeyedRandomStream(key: streamKey, stream: 1)
    var sink: Int64 = 0
    let rate = rate(seconds: arguments.seconds) { sink &+= noise.samples(count: batch, using: &source).reduce(0, &+) }
    report("discrete-gaussian-sigma-2^20-keyed-stream", rate * Double(batch), "op/s")
    precondition(sink != .min)
}
var words: UInt64 = 0
if arguments.only == nil || arguments.only == "drbg-words" {
    var source = BufferedSecureRandom()
    let rate = rate(seconds: arguments.seconds) { for _ in 0..<batch { words ^= source.next() } }
    report("drbg-words", rate * Double(batch), "op/s")
}
if arguments.only == nil || arguments.only == "keyed-stream-words" {
    var source = try KeyedRandomStream(key: streamKey, stream: 2)
    let rate = rate(seconds: arguments.seconds) { for _ in 0..<batch { words ^= source.next() } }
    report("keyed-stream-words", rate * Double(batch), "op/s")
}
precondition(words != 1)
// A sampler's start-up: its block table, for a variance not seen before (each is built once per process, at its
// first draw, which this times with it).
var fresh: UInt64 = 1 << 40
if arguments.only == nil || arguments.only == "discrete-gaussian-table" {
    var source = try KeyedRandomStream(key: streamKey, stream: 3)
    let rate = rate(seconds: arguments.seconds) {
        fresh += 1
        let noise = try? DiscreteGaussian(varianceNumerator: fresh, varianceDenominator: 1)
        precondition(noise?.sample(using: &source) != .min)
    }
    report("discrete-gaussian-table", rate, "op/s")
}
