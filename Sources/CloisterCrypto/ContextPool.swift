import Synchronization

/// OpenSSL operation contexts kept for reuse. Setting one up (copying a keyed cipher context, or initialising a key's
/// signing operation, which looks up the provider's functions) costs as much as a small operation itself, so
/// contexts go back to the pool after each use instead of being freed. Each context is used by one caller at a time.
final class ContextPool: @unchecked Sendable {
    /// Idle contexts kept; more than this many concurrent users make extra ones, freed after use.
    private static let capacity = 8

    /// A context while it sits in the pool, owned by no one.
    private struct Idle: @unchecked Sendable { let context: OpaquePointer }

    private let idle = Mutex<[Idle]>([])
    private let make: () throws -> OpaquePointer
    private let release: (OpaquePointer) -> Void

    /// A pool whose contexts come from `make` and are freed with `release`.
    init(make: @escaping () throws -> OpaquePointer, release: @escaping (OpaquePointer) -> Void) {
        self.make = make
        self.release = release
    }

    deinit {
        idle.withLock { contexts in contexts.forEach { release($0.context) } }
    }

    /// Runs `body` with a context of its own, made when none is idle, and keeps the context afterwards.
    func withContext<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
        let context = try idle.withLock { $0.popLast()?.context } ?? make()
        defer {
            let kept = idle.withLock { contexts in
                guard contexts.count < Self.capacity else { return false }
                contexts.append(Idle(context: context))
                return true
            }
            if !kept { release(context) }
        }
        return try body(context)
    }
}
