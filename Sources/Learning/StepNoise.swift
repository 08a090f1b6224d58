internal import CMatrixKernels
import Glibc
public import Privacy
import Synchronization

/// Independent random streams, numbered: where a DP-SGD step may draw its noise while it forms its gradients, a chunk
/// from each (`StepNoise`). Each stream must be independent of the others and of the step's own source, and as secure:
/// the command line's are fresh generators on OpenSSL's DRBG, the `dpsgd` enclave's keyed streams of its job's key.
public protocol RandomStreams: Sendable {
    associatedtype Stream: RandomNumberGenerator
    /// Stream `index`.
    func stream(_ index: Int) -> Stream
    /// `count` samples of `mechanism`'s noise from stream `index`. (A requirement with an inlinable default, so that
    /// each conformance's witness is the sampler specialised for its stream, not a generic call per random word.)
    func noise(_ mechanism: DiscreteGaussianMechanism, count: Int, stream index: Int) -> [Int64]
}

extension RandomStreams {
    @inlinable
    public func noise(_ mechanism: DiscreteGaussianMechanism, count: Int, stream index: Int) -> [Int64] {
        var stream = stream(index)
        return mechanism.drawNoise(count: count, using: &stream)
    }
}

/// A DP-SGD step's noise, one exact discrete Gaussian sample per released coordinate, drawn while the step forms its
/// gradients: the noise does not depend on the data, so a second core can draw it meanwhile.
///
/// A release of fewer than `chunk` / 4 coordinates, or a step given no streams, draws its noise at once from the
/// step's source, before the data is touched. A larger one draws chunk c from stream c of its `RandomStreams`: the
/// process's step thread (`StepThread`) takes chunks from the start while the step's gradients are formed, and the
/// step's thread takes what is left when it is done, then waits for any chunk the step thread is still drawing. The
/// noise is the same whichever thread draws which chunk.
final class StepNoise {
    /// Coordinates per chunk: 16 KiB of samples, about 70 µs to draw.
    static let chunk = 2_048

    private let chunks: NoiseChunks?
    private var drawn: [Int64]?

    /// The noise of `count` coordinates of `mechanism`, drawn now from `random`.
    init<Source: RandomNumberGenerator>(
        mechanism: DiscreteGaussianMechanism, count: Int, using random: inout Source
    ) {
        chunks = nil
        drawn = mechanism.drawNoise(count: count, using: &random)
    }

    /// Starts drawing the noise of `count` coordinates of `mechanism` from `streams`, or draws it now from `random`
    /// when it is small.
    init<Source: RandomNumberGenerator, Streams: RandomStreams>(
        mechanism: DiscreteGaussianMechanism, count: Int, streams: Streams, orFrom random: inout Source
    ) {
        guard count >= Self.chunk / 4 else {
            chunks = nil
            drawn = mechanism.drawNoise(count: count, using: &random)
            return
        }
        let chunks = NoiseChunks(count: count, chunk: Self.chunk) { index, count in
            streams.noise(mechanism, count: count, stream: index)
        }
        self.chunks = chunks
        // A job a chunk, so that a batch a step offers meanwhile is taken between two of them.
        for _ in 0..<chunks.chunkCount { StepThread.shared?.submit { chunks.drawOne() } }
    }

    /// A step that ends early (its data failed to read) leaves no chunk for the step thread to draw.
    deinit { chunks?.cancel() }

    /// The noise, once every chunk is drawn: the step's thread draws the chunks the step thread has not taken.
    func values() -> [Int64] {
        if let drawn { return drawn }
        let values = chunks!.finish()
        drawn = values
        return values
    }
}

/// The thread that works beside DP-SGD steps: it draws their noise (`StepNoise`) and computes the batches of their
/// gradients they offer it (`StepGradients`). One per process, started at the first step that asks for it when the
/// machine has a second core, asleep on a semaphore between jobs (starting a thread for each step cost more than it
/// saved on small models). It runs the jobs in the order they come; every job is work a step's own thread would
/// otherwise do, and can take back, so no step ever waits for a job the thread has not started. A batch on offer goes
/// before the noise's chunks, which are a job each.
final class StepThread: @unchecked Sendable {
    // `jobs` is only touched under its lock; `signal` is a POSIX semaphore, safe from any thread.
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let signal: UnsafeMutablePointer<sem_t>

    /// The process's step thread; nil on one core, or when no thread can be started (each step then works alone).
    static let shared: StepThread? = {
        guard cloister_available_cpus() > 1 else { return nil }
        let thread = StepThread()
        var handle = pthread_t()
        let context = Unmanaged.passRetained(thread).toOpaque()
        guard
            pthread_create(
                &handle, nil,
                { context in
                    Unmanaged<StepThread>.fromOpaque(context!).takeUnretainedValue().run()
                }, context) == 0
        else {
            Unmanaged<StepThread>.fromOpaque(context).release()
            return nil
        }
        pthread_detach(handle)
        return thread
    }()

    private init() {
        signal = .allocate(capacity: 1)
        sem_init(signal, 0, 0)
    }

    /// Queues `job`, at the front when it is `urgent` (a step's batch on offer: the step waits for it, where it draws
    /// the noise left over itself).
    func submit(urgent: Bool = false, _ job: @escaping @Sendable () -> Void) {
        jobs.withLock { urgent ? $0.insert(job, at: 0) : $0.append(job) }
        sem_post(signal)
    }

    private func run() -> Never {
        while true {
            while sem_wait(signal) != 0 {}  // EINTR: wait again
            let job = jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            job?()
        }
    }
}

/// The chunks of one step's noise, each taken once by whichever thread comes first.
final class NoiseChunks: @unchecked Sendable {
    // Each chunk's range of `buffer` is written by the one thread that took its index; the step's thread reads it only
    // after `finished` counts every chunk (each count released after its chunk's writes, and acquired before reading).
    private let count: Int
    private let chunk: Int
    let chunkCount: Int
    private let draw: @Sendable (_ index: Int, _ count: Int) -> [Int64]
    private let next = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let buffer: UnsafeMutableBufferPointer<Int64>

    init(count: Int, chunk: Int, draw: @escaping @Sendable (_ index: Int, _ count: Int) -> [Int64]) {
        self.count = count
        self.chunk = chunk
        chunkCount = (count + chunk - 1) / chunk
        self.draw = draw
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: 0)
    }

    deinit { buffer.deallocate() }

    /// Draws the next chunk no thread has taken; whether there was one.
    @discardableResult
    func drawOne() -> Bool {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        guard index < chunkCount else { return false }
        let start = index * chunk
        let samples = draw(index, min(chunk, count - start))
        _ = UnsafeMutableBufferPointer(rebasing: buffer[start...]).update(fromContentsOf: samples)
        finished.wrappingAdd(1, ordering: .releasing)
        return true
    }

    /// Leaves no chunk to take (those being drawn finish).
    func cancel() { next.store(chunkCount, ordering: .relaxed) }

    /// Draws what is left, waits for the chunks another thread is drawing (each under 100 µs), and returns the noise.
    func finish() -> [Int64] {
        while drawOne() {}
        while finished.load(ordering: .acquiring) < chunkCount { sched_yield() }
        return Array(buffer)
    }
}
