import CloisterCBOR
import EnclavePlatform
import EnclaveProtocol
import EnclaveSDK
import Glibc
import Testing

@Suite struct MonotonicCounterTests {
    let owner = SealingFixtures.identity()

    @Test func incrementsArePersistedAndSurviveReopening() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(
            directory: directory + "/counters", authenticationKey: SealingFixtures.counterKey)
        let counter = try store.create(owner: owner)
        #expect(counter.value == 0)
        #expect(counter.id.count == 16)
        #expect(try store.increment(counter.id, for: owner).value == 1)
        #expect(try store.increment(counter.id, for: owner).value == 2)
        let reopened = try MonotonicCounterStore(
            directory: directory + "/counters", authenticationKey: SealingFixtures.counterKey)
        #expect(try reopened.read(counter.id, for: owner).value == 2)
        var status = stat()
        #expect(stat(directory + "/counters", &status) == 0 && status.st_mode & 0o777 == 0o700)
    }

    @Test func aNewVersionOfTheProductKeepsItsCounterButOthersCannotUseIt() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let counter = try store.create(owner: owner)
        let upgraded = SealingFixtures.identity(measurement: 0x42, svn: 9)
        #expect(try store.increment(counter.id, for: upgraded).value == 1)
        for stranger in [SealingFixtures.identity(signer: 0xbb), SealingFixtures.identity(productID: 8)] {
            let error = try #require(throws: PersistenceError.self) { try store.increment(counter.id, for: stranger) }
            #expect(error.code == .notOwner)
        }
        #expect(try store.read(counter.id, for: owner).value == 1)
    }

    @Test("two stores on one directory (as two platform processes) never lose an increment: the flock serialises them")
    func sharedDirectory() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let first = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let second = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let counter = try first.create(owner: owner)
        let owner = self.owner
        let workers = [first, second].map { store in
            BackgroundWork { for _ in 0..<100 { _ = try store.increment(counter.id, for: owner) } }
        }
        for worker in workers { try worker.join() }
        #expect(try first.read(counter.id, for: owner).value == 200)
    }

    @Test func concurrentIncrementsEachGetTheirOwnValue() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let counter = try store.create(owner: owner)
        let owner = self.owner
        let workers = (0..<4).map { _ in
            BackgroundWork { try (0..<10).map { _ in try store.increment(counter.id, for: owner).value } }
        }
        let values = try workers.flatMap { try $0.join() }
        #expect(values.sorted() == Array(1...40))
        #expect(try store.read(counter.id, for: owner).value == 40)
    }

    @Test func unknownCounterIsAnError() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let error = try #require(throws: PersistenceError.self) {
            try store.read([UInt8](repeating: 3, count: 16), for: owner)
        }
        #expect(error.code == .unknownCounter)
    }

    @Test func corruptCounterFileIsReportedNotTrusted() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let counter = try store.create(owner: owner)
        let name = try #require(AtomicFile.entries(of: directory).first { $0.hasSuffix(".counter") })
        try AtomicFile(path: directory + "/" + name).write([0xa1, 0x61])
        let error = try #require(throws: PersistenceError.self) { try store.read(counter.id, for: owner) }
        #expect(error.code == .corrupt)
        #expect(error.reason.contains(name))
    }

    @Test func rolledBackBlobIsRefusedAfterTheCounterMovedOn() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let sealer = SealingFixtures.sealer(for: owner, counters: store)
        let counter = try store.create(owner: owner)
        let first = try sealer.seal(
            Array("balance=10".utf8), policy: .signer, counter: MonotonicCounter(id: counter.id, value: 1))
        _ = try store.increment(counter.id, for: owner)
        #expect(try sealer.unseal(first) == Array("balance=10".utf8))

        let second = try sealer.seal(
            Array("balance=3".utf8), policy: .signer, counter: MonotonicCounter(id: counter.id, value: 2))
        _ = try store.increment(counter.id, for: owner)
        #expect(try sealer.unseal(second) == Array("balance=3".utf8))
        let error = try #require(throws: SealingError.self) { try sealer.unseal(first) }
        #expect(error.code == .rolledBack)
        #expect(error.reason == "rolled back: sealed at counter 1, current 2")
    }

    @Test func counterStampCannotBeStrippedOrRaised() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let sealer = SealingFixtures.sealer(for: owner, counters: store)
        let counter = try store.create(owner: owner)
        let blob = try sealer.sealedBlob(
            [1, 2, 3], policy: .measurement, counter: MonotonicCounter(id: counter.id, value: 5))
        let stripped = SealedBlob(request: blob.request, counter: nil, nonce: blob.nonce, ciphertext: blob.ciphertext)
        let raised = SealedBlob(
            request: blob.request, counter: MonotonicCounter(id: counter.id, value: 6), nonce: blob.nonce,
            ciphertext: blob.ciphertext)
        for forged in [stripped, raised] {
            let error = try #require(throws: SealingError.self) { try sealer.unseal(forged.encoded()) }
            #expect(error.code == .authenticationFailure)
        }
    }

    @Test func counterBoundBlobNeedsACounterService() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let counter = try store.create(owner: owner)
        let blob = try SealingFixtures.sealer(for: owner, counters: store)
            .seal([1], policy: .measurement, counter: counter)
        let error = try #require(throws: SealingError.self) { try SealingFixtures.sealer(for: owner).unseal(blob) }
        #expect(error.code == .counterUnavailable)
    }

    @Test func openingTheStoreRemovesStaleTemporaryFiles() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let counter = try store.create(owner: owner)
        let stale = directory + "/" + AtomicFile.temporaryPrefix + "left-by-a-killed-writer"
        try AtomicFile(path: directory + "/unrelated").write([1])
        let descriptor = creat(stale, 0o600)
        #expect(descriptor >= 0)
        close(descriptor)
        _ = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        #expect(try SealingFixtures.temporaries(in: directory).isEmpty)
        #expect(access(directory + "/unrelated", F_OK) == 0)
        #expect(try store.read(counter.id, for: owner).value == 0)
    }

    @Test("a counter file rewritten outside the platform fails its MAC: an older value, another owner, a made-up MAC")
    func rewrittenCounterIsRefused() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let counter = try store.create(owner: owner)
        _ = try store.increment(counter.id, for: owner)
        let name = try #require(AtomicFile.entries(of: directory).first { $0.hasSuffix(".counter") })
        let file = AtomicFile(path: directory + "/" + name)
        let genuine = try CBORDecoder().decode(file.read())
        let stranger = SealingFixtures.identity(signer: 0xbb)
        let forgeries: [CBORValue] = [
            genuine.replacing("value", with: .unsigned(0)),
            genuine.replacing("signer", with: .bytes(stranger.signer)),
            genuine.replacing("mac", with: .bytes([UInt8](repeating: 0, count: 32))),
        ]
        for forged in forgeries {
            try file.write(forged.encoded())
            let error = try #require(throws: PersistenceError.self) { try store.read(counter.id, for: owner) }
            #expect(error.code == .tampered)
            #expect(error.reason.contains(name))
        }
        try file.write(genuine.encoded())
        #expect(try store.read(counter.id, for: owner).value == 1)
        let otherPlatform = try MonotonicCounterStore(
            directory: directory, authenticationKey: [UInt8](repeating: 7, count: 32))
        let error = try #require(throws: PersistenceError.self) { try otherPlatform.read(counter.id, for: owner) }
        #expect(error.code == .tampered, "a store under another platform's key")
    }

    @Test("its owner deletes a counter; a stranger cannot; state sealed against it no longer opens")
    func deleteCounter() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let store = try MonotonicCounterStore(directory: directory, authenticationKey: SealingFixtures.counterKey)
        let sealer = SealingFixtures.sealer(for: owner, counters: store)
        let counter = try store.create(owner: owner)
        let blob = try sealer.seal([1], policy: .signer, counter: counter)
        let stranger = try #require(throws: PersistenceError.self) {
            try store.delete(counter.id, for: SealingFixtures.identity(productID: 8))
        }
        #expect(stranger.code == .notOwner)
        try store.delete(counter.id, for: owner)
        #expect(try AtomicFile.entries(of: directory).filter { $0.hasSuffix(".counter") }.isEmpty)
        #expect(throws: (any Error).self) { try sealer.unseal(blob) }
        let again = try #require(throws: PersistenceError.self) { try store.delete(counter.id, for: owner) }
        #expect(again.code == .unknownCounter)
    }
}

extension CBORValue {
    /// This map with the value under `key` replaced.
    fileprivate func replacing(_ key: String, with value: CBORValue) -> CBORValue {
        guard case .map(let entries) = self else { return self }
        return .map(entries.map { $0.key == .text(key) ? CBORMapEntry($0.key, value) : $0 })
    }
}
