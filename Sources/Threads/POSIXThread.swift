import Glibc

/// A POSIX thread running a closure: what DP-SGD's step thread and the enclave's parallel work start. Plain threads,
/// since libdispatch's pool would need an epoll event loop, which the enclave's seccomp allow-list does not grant;
/// these need only `clone3`, `set_robust_list`, `rseq`, `futex` and `exit`.
public struct POSIXThread: Sendable {
    private let handle: pthread_t

    /// Starts `body` on a new thread; nil when the system starts none (the caller then does the work itself).
    public init?(_ body: @escaping @Sendable () -> Void) {
        final class Body: Sendable {
            let run: @Sendable () -> Void
            init(_ run: @escaping @Sendable () -> Void) { self.run = run }
        }
        var handle = pthread_t()
        let context = Unmanaged.passRetained(Body(body)).toOpaque()
        let created = pthread_create(
            &handle, nil,
            { context in
                Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
                return nil
            }, context)
        guard created == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            return nil
        }
        self.handle = handle
    }

    /// Waits for the thread to return.
    public func join() { pthread_join(handle, nil) }

    /// Lets the thread run on by itself: it is never joined, and its resources go when it returns.
    public func detach() { pthread_detach(handle) }
}
