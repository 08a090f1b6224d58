import FoundationEssentials
import Glibc

/// An in-place iterative radix-2 fast Fourier transform over split real and imaginary arrays of one power-of-two
/// length (Cooley–Tukey, decimation in time). The twiddle factors are computed once for the length, so the
/// transforms of one composition share them; each stage reads them at its stride, the same values a stage computing
/// its own would get (the angles differ by powers of two, which rounding commutes with). `inverse` computes the
/// unnormalised inverse; divide by the length afterwards.
struct FFT {
    let count: Int
    /// cos and sin of 2πk/count for k < count/2.
    private let cosines: [Double]
    private let sines: [Double]

    init(count: Int) {
        precondition(count > 0 && count & (count - 1) == 0, "FFT length is a power of 2")
        self.count = count
        let angles = (0..<count / 2).map { 2 * Double.pi * Double($0) / Double(count) }
        cosines = angles.map(cos)
        sines = angles.map(sin)
    }

    func transform(_ real: inout [Double], _ imaginary: inout [Double], inverse: Bool) {
        precondition(real.count == count && imaginary.count == count, "FFT input of the planned length")
        // Bit-reversal permutation.
        var j = 0
        for i in 1..<count {
            var bit = count >> 1
            while j & bit != 0 {
                j ^= bit
                bit >>= 1
            }
            j |= bit
            if i < j {
                real.swapAt(i, j)
                imaginary.swapAt(i, j)
            }
        }
        let sign = inverse ? 1.0 : -1.0
        cosines.withUnsafeBufferPointer { cosines in
            sines.withUnsafeBufferPointer { sines in
                real.withUnsafeMutableBufferPointer { re in
                    imaginary.withUnsafeMutableBufferPointer { im in
                        var length = 2
                        while length <= count {
                            let half = length / 2
                            let stride = count / length
                            var start = 0
                            while start < count {
                                for k in 0..<half {
                                    let (wr, wi) = (cosines[k * stride], sign * sines[k * stride])
                                    let a = start + k
                                    let b = a + half
                                    let tr = re[b] * wr - im[b] * wi
                                    let ti = re[b] * wi + im[b] * wr
                                    re[b] = re[a] - tr
                                    im[b] = im[a] - ti
                                    re[a] += tr
                                    im[a] += ti
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
