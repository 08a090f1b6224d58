// Measures noise samplers for scripts/bench-noise: exact discrete Gaussian samples (DiscreteGaussian) per second
// at σ = 1, 1,000 and 2²⁰ (the grid scale of a release at γ = σC·2⁻²⁰), and Box–Muller normals (GaussianSampler) per
// second, each drawing from OpenSSL's DRBG through BufferedSecureRandom. Prints `name rate op/s` lines.
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
    let rate = rate(seconds: arguments.seconds) { for _ in 0..<batch { sink &+= noise.sample(using: &source) } }
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
