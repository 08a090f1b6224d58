import CloisterCrypto
import Foundation
import Learning
import Testing

/// The Kolmogorov–Smirnov statistic of `samples` against the standard normal distribution function.
func kolmogorovSmirnov(_ samples: [Double]) -> Double {
    let sorted = samples.sorted()
    let n = Double(sorted.count)
    var largest = 0.0
    for (index, value) in sorted.enumerated() {
        let cdf = 0.5 * erfc(-value / 2.squareRoot())
        largest = max(largest, abs(cdf - Double(index) / n), abs(Double(index + 1) / n - cdf))
    }
    return largest
}

@Suite("Gaussian sampler on OpenSSL's DRBG")
struct SamplerTests {
    /// The KS critical value at significance 1e-6 (a false alarm once in a million runs): √(−ln(α/2)/2) / √n.
    static func critical(_ n: Int) -> Double { (-log(1e-6 / 2) / 2).squareRoot() / Double(n).squareRoot() }

    @Test("200,000 draws pass a Kolmogorov–Smirnov test against N(0, 1), with mean 0 and variance 1")
    func normal() {
        var sampler = GaussianSampler(source: BufferedSecureRandom())
        let samples = (0..<200_000).map { _ in sampler.next() }
        #expect(kolmogorovSmirnov(samples) < Self.critical(samples.count))
        let mean = samples.reduce(0, +) / Double(samples.count)
        let variance = samples.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(samples.count - 1)
        #expect(abs(mean) < 5 / Double(samples.count).squareRoot())
        #expect(abs(variance - 1) < 0.02)
        #expect(samples.allSatisfy { $0.isFinite })
    }

    @Test("the test can fail: a Laplace distribution of variance 1 and a sampler of the wrong scale are rejected")
    func detectsWrongDistributions() {
        var sampler = GaussianSampler(source: BufferedSecureRandom())
        let scaled = (0..<200_000).map { _ in 1.05 * sampler.next() }
        #expect(kolmogorovSmirnov(scaled) > Self.critical(scaled.count))
        let laplace = (0..<200_000).map { _ -> Double in
            let u = sampler.uniform() - 0.5
            return -(u < 0 ? -1 : 1) * log(1 - 2 * abs(u)) / 2.squareRoot()
        }
        #expect(kolmogorovSmirnov(laplace) > Self.critical(laplace.count))
    }

    @Test("uniform draws cover [0, 1) evenly")
    func uniform() {
        var sampler = GaussianSampler(source: BufferedSecureRandom())
        var buckets = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 { buckets[Int(sampler.uniform() * 10)] += 1 }
        #expect(buckets.allSatisfy { abs($0 - 10_000) < 600 })
    }
}
