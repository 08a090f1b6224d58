import FoundationEssentials
import Glibc

/// An in-place iterative radix-2 fast Fourier transform over split real and imaginary arrays whose length is a
/// power of two (Cooley–Tukey, decimation in time). `inverse` computes the unnormalised inverse; divide by the
/// length afterwards.
enum FFT {
    static func transform(_ real: inout [Double], _ imaginary: inout [Double], inverse: Bool) {
        let count = real.count
        precondition(count == imaginary.count && count > 0 && count & (count - 1) == 0, "FFT length is a power of 2")
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
        var length = 2
        while length <= count {
            let half = length / 2
            // Twiddles for this stage, computed directly (not by repeated multiplication) to keep them exact.
            let twiddles = (0..<half).map { k -> (Double, Double) in
                let angle = sign * 2 * Double.pi * Double(k) / Double(length)
                return (cos(angle), sin(angle))
            }
            real.withUnsafeMutableBufferPointer { re in
                imaginary.withUnsafeMutableBufferPointer { im in
                    var start = 0
                    while start < count {
                        for k in 0..<half {
                            let (wr, wi) = twiddles[k]
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
                }
            }
            length *= 2
        }
    }
}
