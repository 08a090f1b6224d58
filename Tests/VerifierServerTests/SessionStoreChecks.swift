import Foundation
import Testing
import VerifierServer

/// What every store must do with sessions: bound the outstanding ones atomically, and delete expired ones in bounded
/// batches, oldest first. Run on SQLite (`SQLiteStoreTests`) and on PostgreSQL (`PostgresReplicaTests`). Each check
/// works at its own `start`, a time at which no other test's session is outstanding.
enum SessionStoreChecks {
    /// A far-future time of its own for each check (stores shared by several tests hold sessions of the present).
    static func start(_ offset: Int) -> Date {
        Date(timeIntervalSinceNow: 100 * 365 * 86_400 + Double(offset) * 1_000_000)
    }

    /// `limit` sessions are stored and the next is refused, told when the first expires; a used or an expired
    /// session makes room.
    static func outstandingBound(_ store: any VerifierStore, start: Date) async throws {
        let limit = 3
        var ids: [String] = []
        for index in 0..<limit {
            let id = "bound-\(UUID())"
            let admission = try await store.createSession(
                id: id, nonce: [UInt8(index)], expiresAt: start + 60 + Double(index), outstandingLimit: limit,
                at: start)
            #expect(admission == .created)
            ids.append(id)
        }
        let refused = try await store.createSession(
            id: "bound-\(UUID())", nonce: [9], expiresAt: start + 60, outstandingLimit: limit, at: start)
        guard case .full(let nextExpiry) = refused else {
            Issue.record("session \(limit + 1) was stored past the bound of \(limit)")
            return
        }
        #expect(abs(nextExpiry.timeIntervalSince(start + 60)) < 0.001)
        #expect(try await store.consumeSession(id: ids[0], at: start).get().id == ids[0])
        #expect(try await store.session(id: ids[0])?.state == .processing)
        #expect(
            try await store.createSession(
                id: "bound-\(UUID())", nonce: [10], expiresAt: start + 60, outstandingLimit: limit, at: start)
                == .created)
        #expect(
            try await store.createSession(
                id: "bound-\(UUID())", nonce: [11], expiresAt: start + 60, outstandingLimit: limit, at: start)
                != .created)
        let later = start + 62.5
        #expect(
            try await store.createSession(
                id: "bound-\(UUID())", nonce: [12], expiresAt: later + 60, outstandingLimit: limit, at: later)
                == .created)
    }

    /// Concurrent requests on every replica together never store more than the bound.
    static func racingReplicas(_ replicas: [any VerifierStore], start: Date) async throws {
        let limit = 10
        let admissions = try await withThrowingTaskGroup(of: SessionAdmission.self) { group in
            for index in 0..<40 {
                group.addTask {
                    try await replicas[index % replicas.count].createSession(
                        id: "race-\(UUID())", nonce: [UInt8(index)], expiresAt: start + 60, outstandingLimit: limit,
                        at: start)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(admissions.filter { $0 == .created }.count == limit)
    }

    /// Expired sessions go, whatever their state, oldest first and at most `limit` at a time; unexpired ones stay.
    static func collection(_ store: any VerifierStore, start: Date) async throws {
        for _ in 0..<1_000 {
            guard try await store.deleteSessions(expiredBefore: start, limit: 10_000) > 0 else { break }
        }
        var expired: [String] = []
        for index in 0..<5 {
            let id = "expired-\(UUID())"
            #expect(
                try await store.createSession(
                    id: id, nonce: [UInt8(index)], expiresAt: start + 1 + Double(index), outstandingLimit: 100,
                    at: start) == .created)
            expired.append(id)
        }
        _ = try await store.consumeSession(id: expired[1], at: start)
        _ = try await store.consumeSession(id: expired[2], at: start)
        try await store.completeSession(id: expired[2], result: "token")
        let unexpired = "unexpired-\(UUID())"
        _ = try await store.createSession(
            id: unexpired, nonce: [7], expiresAt: start + 100, outstandingLimit: 100, at: start)

        #expect(try await store.deleteSessions(expiredBefore: start + 10, limit: 2) == 2)
        #expect(try await store.session(id: expired[0]) == nil)
        #expect(try await store.session(id: expired[1]) == nil)
        #expect(try await store.session(id: expired[2])?.state == .complete)
        #expect(try await store.deleteSessions(expiredBefore: start + 10, limit: 10) == 3)
        #expect(try await store.deleteSessions(expiredBefore: start + 10, limit: 10) == 0)
        for id in expired { #expect(try await store.session(id: id) == nil) }
        #expect(try await store.session(id: unexpired)?.state == .waiting)
    }
}
