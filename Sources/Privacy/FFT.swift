import FoundationEssentials
import Glibc

/// The discrete Fourier transform of real sequences of one power-of-two length N, by an iterative radix-2 complex
/// transform (Cooley–Tukey, decimation in time) of half the length: the even and odd samples are packed as the real
/// and imaginary parts of N/2 complex values, transformed, and separated with one more butterfly (the standard real-FFT
/// split). A real sequence's spectrum is conjugate-symmetric, so its N/2 + 1 lowest frequencies hold all of it; half
/// the work and half the memory of a complex transform of length N.
///
/// The twiddle factors are computed once for the length, so the transforms of one composition share them; each stage
/// reads them at its stride, the same values a stage computing its own would get (the angles differ by powers of two,
/// which rounding commutes with).
struct FFT {
    /// N, the real sequences' length.
    let count: Int
    /// cos and sin of 2πk/N for k < N/2.
    private let cosines: [Double]
    private let sines: [Double]

    init(count: Int) {
        precondition(count >= 4 && count & (count - 1) == 0, "FFT length is a power of 2, at least 4")
        self.count = count
        cosines = Self.table(count / 2) { cos(2 * Double.pi * Double($0) / Double(count)) }
        sines = Self.table(count / 2) { sin(2 * Double.pi * Double($0) / Double(count)) }
    }

    /// `value(k)` for k < `length`, written in place: the FFT's loops run on buffers, not through `Collection`'s
    /// generic paths, which an unoptimised build (the fuzzers' and the tests') calls element by element.
    private static func table(_ length: Int, _ value: (Int) -> Double) -> [Double] {
        [Double](unsafeUninitializedCapacity: length) { buffer, initialised in
            for k in 0..<length { buffer[k] = value(k) }
            initialised = length
        }
    }

    /// The frequencies 0 through N/2 of the real sequence `values` (count N): X_k = Σ_n x_n e^(−2πikn/N).
    func forward(_ values: [Double]) -> (real: [Double], imaginary: [Double]) {
        precondition(values.count == count, "FFT input of the planned length")
        let half = count / 2
        var re = values.withUnsafeBufferPointer { values in Self.table(half) { values[2 * $0] } }
        var im = values.withUnsafeBufferPointer { values in Self.table(half) { values[2 * $0 + 1] } }
        complexTransform(&re, &im, inverse: false)
        var real = [Double](repeating: 0, count: half + 1)
        var imaginary = [Double](repeating: 0, count: half + 1)
        // Z_k = E_k + i·O_k with E, O the transforms of the even and odd samples; X_k = E_k + W^k·O_k, W = e^(−2πi/N).
        for k in 0...half {
            let (a, b) = (k % half, (half - k) % half)
            let (evenRe, evenIm) = ((re[a] + re[b]) / 2, (im[a] - im[b]) / 2)
            let (oddRe, oddIm) = ((im[a] + im[b]) / 2, (re[b] - re[a]) / 2)
            let (wr, wi) = twiddle(k, sign: -1)
            real[k] = evenRe + wr * oddRe - wi * oddIm
            imaginary[k] = evenIm + wr * oddIm + wi * oddRe
        }
        return (real, imaginary)
    }

    /// N times the real sequence whose frequencies 0 through N/2 are `real` + i·`imaginary` (the unnormalised inverse
    /// of `forward`; divide by N afterwards). The imaginary parts of frequencies 0 and N/2, which a real sequence's
    /// spectrum does not have, are taken as 0: the result is the real part of the complex inverse transform.
    func inverse(real: [Double], imaginary spectrum: [Double]) -> [Double] {
        let half = count / 2
        precondition(real.count == half + 1 && spectrum.count == half + 1, "a spectrum of N/2 + 1 frequencies")
        var imaginary = spectrum
        (imaginary[0], imaginary[half]) = (0, 0)
        var re = [Double](repeating: 0, count: half)
        var im = [Double](repeating: 0, count: half)
        // 2Z_k = (X_k + conj X_(N/2−k)) + i·W^(−k)·(X_k − conj X_(N/2−k)).
        for k in 0..<half {
            let (sumRe, sumIm) = (real[k] + real[half - k], imaginary[k] - imaginary[half - k])
            let (differenceRe, differenceIm) = (real[k] - real[half - k], imaginary[k] + imaginary[half - k])
            let (wr, wi) = twiddle(k, sign: 1)
            let (oddRe, oddIm) = (differenceRe * wr - differenceIm * wi, differenceRe * wi + differenceIm * wr)
            re[k] = sumRe - oddIm
            im[k] = sumIm + oddRe
        }
        complexTransform(&re, &im, inverse: true)
        return re.withUnsafeBufferPointer { re in
            im.withUnsafeBufferPointer { im in Self.table(count) { $0 & 1 == 0 ? re[$0 >> 1] : im[$0 >> 1] } }
        }
    }

    /// e^(sign·2πik/N) for 0 ≤ k ≤ N/2.
    private func twiddle(_ k: Int, sign: Double) -> (Double, Double) {
        k < count / 2 ? (cosines[k], sign * sines[k]) : (-1, 0)
    }

    /// The complex transform of length N/2 in place (unnormalised when `inverse`), reading the length-N table at
    /// even indices.
    private func complexTransform(_ real: inout [Double], _ imaginary: inout [Double], inverse: Bool) {
        let size = count / 2
        let sign = inverse ? 1.0 : -1.0
        cosines.withUnsafeBufferPointer { cosines in
            sines.withUnsafeBufferPointer { sines in
                real.withUnsafeMutableBufferPointer { re in
                    imaginary.withUnsafeMutableBufferPointer { im in
                        // Bit-reversal permutation.
                        var j = 0
                        for i in 1..<size {
                            var bit = size >> 1
                            while j & bit != 0 {
                                j ^= bit
                                bit >>= 1
                            }
                            j |= bit
                            if i < j {
                                (re[i], re[j]) = (re[j], re[i])
                                (im[i], im[j]) = (im[j], im[i])
                            }
                        }
                        var length = 2
                        while length <= size {
                            let half = length / 2
                            let stride = count / length
                            var start = 0
                            while start < size {
                                // A `while`, not `for … in`: an unoptimised build (the fuzzers', the tests') calls the
                                // range's iterator at every butterfly.
                                var k = 0
                                while k < half {
                                    let (wr, wi) = (cosines[k * stride], sign * sines[k * stride])
                                    let a = start + k
                                    let b = a + half
                                    let tr = re[b] * wr - im[b] * wi
                                    let ti = re[b] * wi + im[b] * wr
                                    re[b] = re[a] - tr
                                    im[b] = im[a] - ti
                                    re[a] += tr
                                    im[a] += ti
                                    k += 1
                                }
                                start += length
                            }
                            length *= 2
                        }
                    }
                }
            }
        }
    }
}
