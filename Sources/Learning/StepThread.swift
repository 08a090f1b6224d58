internal import CMatrixKernels
import Synchronization
import Threads

/// The thread that works beside DP-SGD steps: it draws their noise (`StepNoise`) and computes the batches of their
/// gradients they offer it (`StepGradients`). One per process, started at the first step that asks for it when the
/// machine has a second core, asleep between jobs (starting a thread for each step cost more than it saved on small
/// models). It runs the jobs in the order they come; every job is work a step's own thread would otherwise do, and can
/// take back, so no step ever waits for a job the thread has not started. A batch on offer goes before the noise's
/// chunks, which are a job each.
final class StepThread: Sendable {
    private let jobs = Mutex<[@Sendable () -> Void]>([])
    private let queued = Semaphore()

    /// The process's step thread; nil on one core, or when no thread can be started (each step then works alone).
    static let shared: StepThread? = {
        guard cloister_available_cpus() > 1 else { return nil }
        let thread = StepThread()
        guard let started = POSIXThread({ thread.run() }) else { return nil }
        started.detach()
        return thread
    }()

    /// How long a wait for a job, or for a job's end, spins before it sleeps.
    static let spin = Duration.microseconds(200)

    private init() {}

    /// Queues `job`, at the front when it is `urgent` (a step's batch on offer: the step waits for it, where it draws
    /// the noise left over itself).
    func submit(urgent: Bool = false, _ job: @escaping @Sendable () -> Void) {
        jobs.withLock { urgent ? $0.insert(job, at: 0) : $0.append(job) }
        queued.signal()
    }

    private func run() -> Never {
        while true {
            // Awake a little after each job: a step's next job comes within its time (a small step is tens of µs),
            // and a sleeping thread costs each submission a wake.
            queued.wait(spinning: Self.spin)
            let job = jobs.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            job?()
        }
    }
}
