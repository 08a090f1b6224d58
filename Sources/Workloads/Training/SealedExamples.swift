import ConfidentialProtocol
import EnclaveSDK
import Learning

/// Examples kept in a sealed region, as DESIGN.md has it ("datasets stay in sealed regions"): rows of
/// `featureCount` features followed by the label, as doubles, packed from `offset`. Pages beyond the enclave's
/// resident budget are evicted encrypted to the host-visible backing store; a page that comes back altered,
/// swapped or replayed is an integrity fault, which the read throws.
struct SealedExamples: ExampleRows {
    let region: SealedRegion
    let offset: Int
    let count: Int
    let featureCount: Int

    private var rowBytes: Int { (featureCount + 1) * MemoryLayout<Double>.stride }
    /// The bytes the examples take in the region.
    var byteCount: Int { count * rowBytes }

    /// The bytes `count` examples of `featureCount` features take.
    static func byteCount(count: Int, featureCount: Int) -> Int {
        count * (featureCount + 1) * MemoryLayout<Double>.stride
    }

    /// Writes the examples of `rows` into `region` from `offset`.
    init(storing rows: Dataset, in region: SealedRegion, at offset: Int) throws {
        self.region = region
        self.offset = offset
        count = rows.count
        featureCount = rows.featureCount
        for index in 0..<count {
            let row = rows.row(index) + [Double(rows.labels[index])]
            try row.withUnsafeBytes { try region.write($0, at: offset + index * rowBytes) }
        }
    }

    func forEachExample(at indices: [Int], _ body: (UnsafeBufferPointer<Double>, Int) -> Void) throws {
        try withUnsafeTemporaryAllocation(of: Double.self, capacity: featureCount + 1) { row in
            for index in indices {
                try region.read(at: offset + index * rowBytes, into: UnsafeMutableRawBufferPointer(row))
                body(UnsafeBufferPointer(rebasing: row[..<featureCount]), Int(row[featureCount]))
            }
        }
    }
}
