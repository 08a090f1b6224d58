/// Where training and evaluation read examples from: rows of features with their class labels. `Dataset` keeps its
/// rows in ordinary memory and never fails; the dpsgd enclave keeps them in a sealed region, whose reads can fail
/// (an integrity fault), hence `Failure`.
public protocol ExampleRows {
    associatedtype Failure: Error
    /// The number of examples.
    var count: Int { get }
    /// The number of features in every row.
    var featureCount: Int { get }
    /// Calls `body` with the features (`featureCount` values) and label of each example at `indices`, in order. (An
    /// array, not any sequence: a conformance's witness then iterates it directly, where a generic sequence cost a
    /// call through its metadata a row.)
    func forEachExample(at indices: [Int], _ body: (UnsafeBufferPointer<Double>, Int) -> Void) throws(Failure)
}

extension Dataset: ExampleRows {
    public func forEachExample(at indices: [Int], _ body: (UnsafeBufferPointer<Double>, Int) -> Void) {
        features.withUnsafeBufferPointer { features in
            for index in indices {
                body(
                    UnsafeBufferPointer(rebasing: features[(index * featureCount)..<((index + 1) * featureCount)]),
                    labels[index])
            }
        }
    }
}
