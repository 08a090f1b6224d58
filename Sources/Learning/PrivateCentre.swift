import FoundationEssentials

/// The mean of the training features, released with Gaussian noise so DP-SGD can centre them without spending privacy
/// outside the accountant. Centring matters under clipping: features far from zero on average put a common component
/// in every per-example gradient, which clipping then shrinks along with the signal.
///
/// Each row is clipped to L2 norm C = √d / 2 (half the largest norm on the schema's [−1, 1]^d, a public constant), so
/// adding or removing one example moves the sum of the clipped rows by at most C. Gaussian noise of standard deviation
/// σC on each coordinate of that sum makes the release a Gaussian mechanism of noise multiplier σ, which the plan
/// composes once with the steps. The noisy sum is divided by the number of training examples (public, as it is in
/// DP-SGD's sampling rate) and clipped to [−1, 1], both post-processing.
public enum PrivateCentre {
    /// The clipping norm for rows of `featureCount` features.
    public static func clip(featureCount: Int) -> Double {
        Double(featureCount).squareRoot() / 2
    }

    /// The noisy centre of `data`'s features at noise multiplier `noiseMultiplier`, noise drawn from `random`.
    public static func estimate<Rows: ExampleRows, Source>(
        _ data: Rows, noiseMultiplier: Double, random: inout GaussianSampler<Source>
    ) throws(Rows.Failure) -> [Double] {
        let deviation = noiseMultiplier * clip(featureCount: data.featureCount)
        let count = Double(max(data.count, 1))
        return try clippedSum(data).map { min(max(($0 + deviation * random.next()) / count, -1), 1) }
    }

    /// The sum of `data`'s rows, each clipped to norm `clip(featureCount:)`: the query the release adds noise to.
    public static func clippedSum<Rows: ExampleRows>(_ data: Rows) throws(Rows.Failure) -> [Double] {
        let d = data.featureCount
        let bound = clip(featureCount: d)
        var sum = [Double](repeating: 0, count: d)
        try data.forEachExample(at: 0..<data.count) { row, _ in
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let factor = PerExampleClipping.factor(norm: norm, bound: bound)
            guard factor > 0 else { return }  // a row that is not finite contributes nothing
            for i in 0..<d { sum[i] += factor * row[i] }
        }
        return sum
    }
}
