internal import CMatrixKernels
import FoundationEssentials
public import Privacy

/// The mean of the training features, released with Gaussian noise so DP-SGD can centre them without spending privacy
/// outside the accountant. Centring matters under clipping: features far from zero on average put a common component
/// in every per-example gradient, which clipping then shrinks along with the signal.
///
/// Each row is clipped to L2 norm C = √d / 2 (half the largest norm on the schema's [−1, 1]^d, a public constant), so
/// adding or removing one example moves the sum of the clipped rows by at most C. The sum is released by the discrete
/// Gaussian mechanism of noise multiplier σ (`DiscreteGaussianMechanism`), which the plan composes once with the
/// steps. The noisy sum is divided by the number of training examples (public, as it is in
/// DP-SGD's sampling rate) and clipped to [−1, 1], both post-processing.
public enum PrivateCentre {
    /// The clipping norm for rows of `featureCount` features.
    public static func clip(featureCount: Int) -> Double {
        Double(featureCount).squareRoot() / 2
    }

    /// The noisy centre of `data`'s features released by `mechanism` (clipping rows to `clip(featureCount:)`), noise
    /// drawn from `random` before the data is read.
    public static func estimate<Rows: ExampleRows, Source: RandomNumberGenerator>(
        _ data: Rows, mechanism: DiscreteGaussianMechanism, random: inout Source
    ) throws(Rows.Failure) -> [Double] {
        let noise = mechanism.drawNoise(count: data.featureCount, using: &random)
        let count = Double(max(data.count, 1))
        return try clippedSum(data, mechanism: mechanism).enumerated().map { index, units in
            min(max(mechanism.release(sum: units, noise: noise[index]) / count, -1), 1)
        }
    }

    /// The sum of `data`'s rows, each clipped to the mechanism's norm, in its grid units: the query the release adds
    /// noise to. A row that is not finite, or whose units are past the mechanism's sensitivity, adds nothing.
    public static func clippedSum<Rows: ExampleRows>(
        _ data: Rows, mechanism: DiscreteGaussianMechanism
    ) throws(Rows.Failure) -> [Int64] {
        let d = data.featureCount
        var sum = [Int64](repeating: 0, count: d)
        let units = UnsafeMutablePointer<Double>.allocate(capacity: max(d, 1))
        defer { units.deallocate() }
        let largest = Double(mechanism.sensitivity)
        try data.forEachExample(at: Array(0..<data.count)) { row, _ in
            let norm = cloister_squared_norm(row.baseAddress!, d).squareRoot()
            let factor = PerExampleClipping.factor(norm: norm, bound: mechanism.clip)
            guard factor > 0 else { return }  // a row that is not finite contributes nothing
            // Units truncated toward zero, at most Δ each (a record with one past it is past Δ in norm).
            units.update(from: row.baseAddress!, count: d)
            var squares = 0.0
            guard cloister_truncate_scaled(units, d, factor * mechanism.unitsPerValue, largest, &squares) != 0,
                admits(squares, units, d, mechanism)
            else { return }
            for i in 0..<d { sum[i] += Int64(units[i]) }
        }
        return sum
    }

    /// Whether units whose squares summed to `squares` (exact below 2⁵³, and at least 2⁵³ when the exact sum is) are
    /// within the mechanism's Δ; past 2⁵³ the squares are counted again in integers.
    private static func admits(
        _ squares: Double, _ units: UnsafeMutablePointer<Double>, _ count: Int, _ mechanism: DiscreteGaussianMechanism
    ) -> Bool {
        guard squares >= 0x1p53 else { return mechanism.admits(squares: UInt64(squares)) }
        var exact = RecordNorm()
        for i in 0..<count { exact.add(Int64(units[i])) }
        return mechanism.admits(exact)
    }
}
