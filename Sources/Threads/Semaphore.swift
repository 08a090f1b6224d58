import Glibc

/// A counting semaphore (POSIX's): `signal` adds one, `wait` blocks until it can take one. Neither makes a system
/// call unless a thread must sleep or be woken, so a wait whose signal has come is an atomic decrement.
public final class Semaphore: @unchecked Sendable {
    // A `sem_t` is safe to use from any thread; it lives at a fixed address for the semaphore's life.
    private let semaphore: UnsafeMutablePointer<sem_t>

    /// A semaphore holding `count`.
    public init(count: UInt32 = 0) {
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, count)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Adds one, waking a waiting thread.
    public func signal() { sem_post(semaphore) }

    /// Takes one, sleeping until there is one.
    public func wait() {
        while sem_wait(semaphore) != 0 {}  // EINTR: wait again
    }

    /// Takes one if there is one, without waiting; whether it took one.
    public func tryWait() -> Bool { sem_trywait(semaphore) == 0 }

    /// Takes one, trying for up to `spin` before sleeping: a wait for work that is about to come or to end (a step's
    /// job, a batch being computed) takes it without the system calls and the scheduler's delay of a sleep and a wake.
    /// The spin is bounded, so a wait longer than `spin` sleeps as `wait()` does.
    public func wait(spinning spin: Duration) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: spin)
        while true {
            for _ in 0..<64 where tryWait() { return }
            if clock.now >= deadline { break }
        }
        wait()
    }

    /// Takes `count`, one at a time, each as `wait(spinning:)` takes it.
    public func wait(count: Int, spinning spin: Duration) {
        for _ in 0..<count { wait(spinning: spin) }
    }
}
