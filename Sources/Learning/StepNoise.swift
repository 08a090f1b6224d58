public import Privacy
import Synchronization
import Threads

/// Independent random streams, numbered: where a DP-SGD step may draw its noise while it forms its gradients, a chunk
/// from each (`StepNoise`). Each stream must be independent of the others and of the step's own source, and as secure:
/// the command line's are keystreams under a key from OpenSSL's DRBG, the `dpsgd` enclave's keyed streams of its job's key.
public protocol RandomStreams: Sendable {
    associatedtype Stream: RandomNumberGenerator
    /// Stream `index`.
    func stream(_ index: Int) -> Stream
    /// Fills `samples` with `mechanism`'s noise from stream `index`. (A requirement with an inlinable default, so that
    /// each conformance's witness is the sampler specialised for its stream, not a generic call per random word.)
    func noise(
        _ mechanism: DiscreteGaussianMechanism, stream index: Int, into samples: UnsafeMutableBufferPointer<Int64>)
    /// A step's Poisson sample (`PoissonSampling.sample`) from `source`, the step's own generator, of the streams'
    /// type. (A requirement for the same reason: the step is generic, and a call through its generator's metadata for
    /// every word of the sample cost digits' steps 9 % of their time.)
    func sample(_ records: Int, rate m: Int, outOf n: Int, using source: inout Stream) -> [Int]
    /// A small release's noise (`StepNoise`), `count` coordinates of `mechanism` drawn at once from `source`, the
    /// step's own generator. (A requirement for the same reason: breast_cancer's steps drew it through the generic
    /// sampler, a call through the generator's metadata for every word.)
    func noise(_ mechanism: DiscreteGaussianMechanism, count: Int, using source: inout Stream) -> [Int64]
}

extension RandomStreams {
    @inlinable
    public func noise(
        _ mechanism: DiscreteGaussianMechanism, stream index: Int, into samples: UnsafeMutableBufferPointer<Int64>
    ) {
        var stream = stream(index)
        mechanism.drawNoise(into: samples, using: &stream)
    }

    @inlinable
    public func sample(_ records: Int, rate m: Int, outOf n: Int, using source: inout Stream) -> [Int] {
        PoissonSampling.sample(records, rate: m, outOf: n, using: &source)
    }

    @inlinable
    public func noise(_ mechanism: DiscreteGaussianMechanism, count: Int, using source: inout Stream) -> [Int64] {
        mechanism.drawNoise(count: count, using: &source)
    }
}

/// A DP-SGD step's noise, one exact discrete Gaussian sample per released coordinate, drawn while the step forms its
/// gradients: the noise does not depend on the data, so a second core can draw it meanwhile.
///
/// A release of fewer than `chunk` / 4 coordinates, or a step given no streams, draws its noise at once from the
/// step's source, before the data is touched. A larger one draws chunk c from stream c of its `RandomStreams`: the
/// process's step thread (`StepThread`) takes chunks from the start while the step's gradients are formed, and the
/// step's thread takes what is left when it is done, then waits for any chunk the step thread is still drawing. The
/// noise is the same whichever thread draws which chunk. In `DPSGD.train` a step's chunks are started by the step
/// before it, once that step has summed its gradients.
final class StepNoise {
    /// Coordinates per chunk: 16 KiB of samples, about 70 µs to draw.
    static let chunk = 2_048

    private let chunks: NoiseChunks?
    private let drawn: [Int64]
    /// The release's coordinates.
    var count: Int { chunks?.count ?? drawn.count }

    /// The noise of `count` coordinates of `mechanism`, drawn now from `random`.
    init<Source: RandomNumberGenerator>(
        mechanism: DiscreteGaussianMechanism, count: Int, using random: inout Source
    ) {
        chunks = nil
        drawn = mechanism.drawNoise(count: count, using: &random)
    }

    private init(chunks: NoiseChunks?, drawn: [Int64]) {
        self.chunks = chunks
        self.drawn = drawn
    }

    /// Starts drawing the noise of `count` coordinates of `mechanism` from `streams`, or draws it now from `random`
    /// when it is small.
    convenience init<Streams: RandomStreams>(
        mechanism: DiscreteGaussianMechanism, count: Int, streams: Streams, orFrom random: inout Streams.Stream
    ) {
        guard Self.drawsInChunks(count) else {
            let drawn = streams.noise(mechanism, count: count, using: &random)
            precondition(drawn.count == count, "a release's noise has a sample for each of its coordinates")
            self.init(chunks: nil, drawn: drawn)
            return
        }
        self.init(mechanism: mechanism, count: count, streams: streams)
    }

    /// Whether a release of `count` coordinates is drawn in chunks from streams (by the step thread, while the step
    /// works), not at once.
    static func drawsInChunks(_ count: Int) -> Bool { count >= chunk / 4 }

    /// Starts drawing the noise of `count` coordinates (`drawsInChunks`) of `mechanism` from `streams`.
    convenience init<Streams: RandomStreams>(mechanism: DiscreteGaussianMechanism, count: Int, streams: Streams) {
        precondition(Self.drawsInChunks(count), "a small release's noise is drawn at once")
        let chunks = NoiseChunks(count: count, chunk: Self.chunk) { index, samples in
            streams.noise(mechanism, stream: index, into: samples)
        }
        self.init(chunks: chunks, drawn: [])
        // A job a chunk, so that a batch a step offers meanwhile is taken between two of them.
        for _ in 0..<chunks.chunkCount { StepThread.shared?.submit { chunks.drawOne() } }
    }

    /// A step that ends early (its data failed to read) leaves no chunk for the step thread to draw.
    deinit { chunks?.cancel() }

    /// `body` of the noise, once every chunk is drawn: the step's thread draws the chunks the step thread has not
    /// taken, and waits for those it is drawing.
    func withValues<Result>(_ body: (UnsafeBufferPointer<Int64>) throws -> Result) rethrows -> Result {
        guard let chunks else { return try drawn.withUnsafeBufferPointer(body) }
        return try body(chunks.finish())
    }
}

/// The chunks of one step's noise, each taken once by whichever thread comes first.
final class NoiseChunks: @unchecked Sendable {
    // Each chunk's range of `buffer` is written by the one thread that took its index; the step's thread reads it only
    // after `finished` has counted every chunk (each signal made after its chunk's writes).
    let count: Int
    private let chunk: Int
    let chunkCount: Int
    private let draw: @Sendable (_ index: Int, _ samples: UnsafeMutableBufferPointer<Int64>) -> Void
    private let next = Atomic<Int>(0)
    private let finished = Semaphore()
    /// Whether `finish` has taken every chunk's signal (the step's thread alone reads and writes it).
    private var collected = false
    private let buffer: UnsafeMutableBufferPointer<Int64>

    init(
        count: Int, chunk: Int,
        draw: @escaping @Sendable (_ index: Int, _ samples: UnsafeMutableBufferPointer<Int64>) -> Void
    ) {
        self.count = count
        self.chunk = chunk
        chunkCount = (count + chunk - 1) / chunk
        self.draw = draw
        // Left uninitialised: every chunk writes its range before `finish` reads any (a cancelled step reads none).
        buffer = .allocate(capacity: count)
    }

    deinit { buffer.deallocate() }

    /// Draws the next chunk no thread has taken; whether there was one.
    @discardableResult
    func drawOne() -> Bool {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        guard index < chunkCount else { return false }
        let start = index * chunk
        draw(index, UnsafeMutableBufferPointer(rebasing: buffer[start..<min(start + chunk, count)]))
        finished.signal()
        return true
    }

    /// Leaves no chunk to take (those being drawn finish).
    func cancel() { next.store(chunkCount, ordering: .relaxed) }

    /// Draws what is left, waits for the chunks another thread is drawing (each under 100 µs), and returns the noise,
    /// valid while the chunks live. Called again, returns the same noise at once.
    func finish() -> UnsafeBufferPointer<Int64> {
        if !collected {
            while drawOne() {}
            finished.wait(count: chunkCount, spinning: StepThread.spin)
            collected = true
        }
        return UnsafeBufferPointer(buffer)
    }
}
