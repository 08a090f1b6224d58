import Foundation
import Testing

@testable import Privacy

@Suite("The real FFT the tight accountants compose with, against the DFT's definition")
struct FFTTests {
    /// Reproducible values in [−1, 1) (SplitMix64).
    static func values(_ count: Int, seed: UInt64) -> [Double] {
        var state = seed
        return (0..<count).map { _ in
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 52) - 1
        }
    }

    @Test(
        "forward gives X_k = Σ x_n e^(−2πikn/N) for k ≤ N/2, and inverse gives N·x back", arguments: [4, 8, 64, 1024])
    func definition(count: Int) {
        let x = Self.values(count, seed: UInt64(count))
        let fft = FFT(count: count)
        let (real, imaginary) = fft.forward(x)
        #expect(real.count == count / 2 + 1 && imaginary.count == count / 2 + 1)
        for k in 0...count / 2 {
            var (re, im) = (0.0, 0.0)
            for n in 0..<count {
                let angle = -2 * Double.pi * Double(k * n % count) / Double(count)
                re += x[n] * cos(angle)
                im += x[n] * sin(angle)
            }
            #expect(
                abs(real[k] - re) < 1e-12 * Double(count) && abs(imaginary[k] - im) < 1e-12 * Double(count), "k \(k)")
        }
        let back = fft.inverse(real: real, imaginary: imaginary)
        for n in 0..<count { #expect(abs(back[n] / Double(count) - x[n]) < 1e-13, "n \(n)") }
    }

    @Test("products of spectra are circular convolutions")
    func convolution() {
        let count = 256
        let (a, b) = (Self.values(count, seed: 1), Self.values(count, seed: 2))
        let fft = FFT(count: count)
        let (ar, ai) = fft.forward(a)
        let (br, bi) = fft.forward(b)
        let product = fft.inverse(
            real: zip(zip(ar, ai), zip(br, bi)).map { $0.0 * $1.0 - $0.1 * $1.1 },
            imaginary: zip(zip(ar, ai), zip(br, bi)).map { $0.0 * $1.1 + $0.1 * $1.0 })
        for n in 0..<count {
            let direct = (0..<count).reduce(0.0) { $0 + a[$1] * b[(n - $1 + count) % count] }
            #expect(abs(product[n] / Double(count) - direct) < 1e-12, "n \(n)")
        }
    }
}
