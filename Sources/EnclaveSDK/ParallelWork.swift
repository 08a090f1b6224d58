import CMatrixKernels
import Synchronization
import Threads

/// Independent work spread over every core the enclave may use (the `fedavg` aggregator opens a batch of updates this
/// way).
/// Plain POSIX threads (`POSIXThread`), joined before it returns.
public enum ParallelWork {
    /// `transform` applied to every element, concurrently on up to `workers` threads (the calling one included),
    /// results in order.
    public static func map<Element: Sendable, Result: Sendable>(
        _ elements: [Element], workers: Int = ParallelWork.cores, _ transform: @escaping @Sendable (Element) -> Result
    ) -> [Result] {
        let threads = min(workers, elements.count) - 1
        guard threads > 0 else { return elements.map(transform) }
        let results = UnsafeMutableBufferPointer<Result?>.allocate(capacity: elements.count)
        results.initialize(repeating: nil)
        defer {
            _ = results.deinitialize()
            results.deallocate()
        }
        nonisolated(unsafe) let slots = results
        // Each index is taken once, so each slot is written by one thread.
        let work = Work(count: elements.count) { index in slots[index] = transform(elements[index]) }
        // Without a thread, the calling thread does its share.
        let started = (0..<threads).compactMap { _ in POSIXThread { work.drain() } }
        work.drain()
        for thread in started { thread.join() }
        return results.map { $0! }
    }

    /// The cores this process may run on (its affinity mask), at least 1.
    public static let cores = Int(cloister_available_cpus())

    /// The indices still to do, taken one at a time by every thread.
    private final class Work: Sendable {
        let count: Int
        let next = Atomic<Int>(0)
        let body: @Sendable (Int) -> Void

        init(count: Int, body: @escaping @Sendable (Int) -> Void) {
            self.count = count
            self.body = body
        }

        func drain() {
            while true {
                let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
                guard index < count else { return }
                body(index)
            }
        }
    }
}
