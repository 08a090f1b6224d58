import Glibc
import Synchronization
import Testing
import Threads

@Suite("Threads from closures, and the semaphore their work is waited on with")
struct ThreadsTests {
    @Test("a thread runs its closure, and join waits for it to return")
    func joinWaits() throws {
        let done = Atomic<Int>(0)
        let threads = try (0..<4).map { _ in
            try #require(
                POSIXThread {
                    usleep(20_000)
                    done.wrappingAdd(1, ordering: .relaxed)
                })
        }
        for thread in threads { thread.join() }
        let count = done.load(ordering: .relaxed)
        #expect(count == 4)
    }

    @Test("a wait takes signals made before it, and sleeps past its spin until one comes")
    func spinThenSleep() throws {
        let semaphore = Semaphore()
        semaphore.signal()
        semaphore.signal()
        semaphore.wait(count: 2, spinning: .microseconds(50))
        // Signalled long after the spin: the wait must have slept and been woken, not returned early.
        let signalled = Atomic<Bool>(false)
        let thread = try #require(
            POSIXThread {
                usleep(50_000)
                signalled.store(true, ordering: .releasing)
                semaphore.signal()
            })
        let clock = ContinuousClock()
        let start = clock.now
        semaphore.wait(spinning: .microseconds(100))
        let woken = signalled.load(ordering: .acquiring)
        #expect(woken)
        #expect(start.duration(to: clock.now) >= .milliseconds(40))
        thread.join()
    }

    @Test("many signals from several threads are each taken once")
    func counts() throws {
        let semaphore = Semaphore(count: 3)
        let threads = try (0..<4).map { _ in
            try #require(POSIXThread { for _ in 0..<1_000 { semaphore.signal() } })
        }
        semaphore.wait(count: 4_003, spinning: .microseconds(200))
        for thread in threads { thread.join() }
        // Nothing is left over.
        let leftOver = semaphore.tryWait()
        #expect(!leftOver)
    }
}
