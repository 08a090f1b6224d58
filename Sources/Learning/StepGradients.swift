import Privacy
import Synchronization
import Threads

/// A DP-SGD step's clipped-gradient sum formed on two cores: the step's thread reads the sampled examples into
/// batches (`ExampleBatch`) and offers each full one to the process's step thread (`StepThread`); a batch the step
/// thread has not taken by the time the next one is full, the step's thread computes itself. Each thread adds into a
/// sum of its own (`FactoredGradientSum`), and the two are added at the end: the sums are exact, so the result is the
/// same whichever thread computed which batch, and the batches are the same (32 examples in sampling order) however the
/// threads share them.
///
/// Only the step's thread reads the data (a sealed region's reads are its own), and a batch is handed over whole: the
/// step thread touches only the batch it took, its own sum and the model's parameters, which no one writes until the
/// step has collected every batch it took. A step whose batches never fill (fewer examples than a batch holds)
/// allocates nothing for the step thread; the spare batches and the step thread's sum are made when first needed.
final class StepGradients: @unchecked Sendable {
    // `offered` and `spare` are only touched under their locks; a batch belongs to one thread at a time (the one that
    // took it from `offered` or `spare`); `helperSum` is written only by the step thread, and read by the step's thread
    // after `computed` has been signalled for every batch the step thread took (each signal made after its batch's
    // additions).
    /// The step's model; let go when the step has its sum, so that a job still queued for the step thread (it will find
    /// no batch) does not hold the parameters while the step moves them (which copied them, 400 KB for the MLP).
    private var model: StepModel?
    private let mechanism: DiscreteGaussianMechanism
    private let own: FactoredGradientSum
    private var helperSum: FactoredGradientSum?
    private let helper: StepThread?
    private var current: ExampleBatch
    /// Batches made beside `current`: at most two, one on offer and one being computed by the step thread.
    private var spares = 0
    private let offered = Mutex<ExampleBatch?>(nil)
    private let spare = Mutex<[ExampleBatch]>([])
    private let taken = Atomic<Int>(0)
    private let computed = Semaphore()

    /// A zero sum for `model`'s gradients, released by `mechanism`; batches are shared with the step thread when
    /// `helper` is given and the model has at least `smallestShared` parameters.
    init(model: Model, mechanism: DiscreteGaussianMechanism, helper: StepThread?) {
        self.model = StepModel(model)
        self.mechanism = mechanism
        own = FactoredGradientSum(mechanism: mechanism, coordinates: model.parameters.count)
        self.helper = model.parameters.count >= Self.smallestShared ? helper : nil
        current = ExampleBatch(for: model)
    }

    /// The fewest parameters whose batches are offered to the step thread: a smaller model's batch takes less time than
    /// handing it over costs.
    static let smallestShared = 256

    private var stepModel: StepModel {
        guard let model else { preconditionFailure("a step's gradients are added before its sum is taken") }
        return model
    }

    /// Adds an example: its features less `centre` (when there is one) and its label.
    func append(_ row: UnsafeBufferPointer<Double>, label: Int, centre: UnsafeBufferPointer<Double>?) {
        current.append(row, label: label, centre: centre)
        if current.isFull { hand(current) }
    }

    /// Whether full batches are offered to the step thread.
    var sharesBatches: Bool { helper != nil }

    /// How many batches the step thread computed (once `finish` has returned).
    var batchesHelped: Int { taken.load(ordering: .relaxed) }

    /// The sum of every example's clipped gradient, once every batch is added.
    func finish() -> FactoredGradientSum {
        stepModel.addGradients(current, into: own)
        // A batch still on offer is computed here; one the step thread took is waited for (under a batch's time).
        if let batch = offered.withLock({ $0.take() }) { stepModel.addGradients(batch, into: own) }
        let helped = taken.load(ordering: .relaxed)
        computed.wait(count: helped, spinning: StepThread.spin)
        if helped > 0, let helperSum { own.add(helperSum) }
        model = nil
        return own
    }

    /// Offers a full batch to the step thread and carries on with a spare one; without a spare (two out), or with a
    /// batch still on offer, computes it here.
    private func hand(_ batch: ExampleBatch) {
        guard let helper, let next = spare.withLock({ $0.popLast() }) ?? newSpare() else {
            stepModel.addGradients(batch, into: own)
            return
        }
        let previous = offered.withLock { slot in
            defer { slot = batch }
            return slot.take()
        }
        if let previous {
            // The step thread has not taken the last one: it is computed here, and its buffer is spare again.
            stepModel.addGradients(previous, into: own)
            spare.withLock { $0.append(previous) }
        } else {
            helper.submit(urgent: true) { [self] in takeOffered() }
        }
        current = next
    }

    private func newSpare() -> ExampleBatch? {
        guard spares < 2 else { return nil }
        spares += 1
        return ExampleBatch(for: stepModel.model)
    }

    /// The step thread's job: the batch on offer, if the step's thread has not taken it back.
    private func takeOffered() {
        let batch = offered.withLock { slot -> ExampleBatch? in
            guard let batch = slot.take() else { return nil }
            taken.wrappingAdd(1, ordering: .relaxed)
            return batch
        }
        guard let batch else { return }
        let model = stepModel
        let sum = helperSum ?? FactoredGradientSum(mechanism: mechanism, coordinates: model.model.parameters.count)
        helperSum = sum
        model.addGradients(batch, into: sum)
        spare.withLock { $0.append(batch) }
        computed.signal()
    }
}
