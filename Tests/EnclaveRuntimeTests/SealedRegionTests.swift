import CloisterCrypto
import EnclaveProtocol
import EnclaveSDK
import Foundation
import Testing

@Suite struct SealedRegionTests {
    static let page = EnclaveMemory.pageSize

    @Test("random reads and writes through a 4-frame budget match a plain array", arguments: [1, 2, 3, 0xC0FFEE])
    func roundTripUnderPressure(seed: UInt64) throws {
        let directory = try TemporaryDirectory()
        let memory = try EnclaveMemory(budget: 4 * Self.page, store: FileBackingStore(directory: directory.path))
        let region = try memory.makeRegion(named: "data", byteCount: 64 * Self.page)
        let other = try memory.makeRegion(named: "other", byteCount: 8 * Self.page)
        var model = [UInt8](repeating: 0, count: region.byteCount)
        var otherModel = [UInt8](repeating: 0, count: other.byteCount)
        var random = PagingGenerator(seed: seed)

        for _ in 0..<1500 {
            let useOther = Int.random(in: 0..<8, using: &random) == 0
            let target = useOther ? other : region
            let count = Int.random(in: 1...(2 * Self.page + 100), using: &random)
            let offset = Int.random(in: 0...(target.byteCount - count), using: &random)
            if Bool.random(using: &random) {
                let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
                try target.write(bytes, at: offset)
                if useOther {
                    otherModel.replaceSubrange(offset..<(offset + count), with: bytes)
                } else {
                    model.replaceSubrange(offset..<(offset + count), with: bytes)
                }
            } else {
                let expected = useOther ? otherModel[offset..<(offset + count)] : model[offset..<(offset + count)]
                #expect(try target.read(at: offset, count: count)[...] == expected)
            }
            #expect(memory.statistics.residentFrames <= memory.frameCount)
        }
        #expect(try region.read(at: 0, count: region.byteCount) == model)
        #expect(try other.read(at: 0, count: other.byteCount) == otherModel)
        let statistics = memory.statistics
        #expect(statistics.evictions > 100 && statistics.sealedWrites > 100 && statistics.loads > 100)
        #expect(statistics.peakResidentFrames == memory.frameCount)
    }

    @Test("regions used from several tasks at once share two frames without mixing their pages")
    func concurrentRegions() async throws {
        let directory = try TemporaryDirectory()
        let memory = try EnclaveMemory(budget: 2 * Self.page, store: FileBackingStore(directory: directory.path))
        let regions = try (0..<4).map { try memory.makeRegion(named: "t\($0)", byteCount: 8 * Self.page) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, region) in regions.enumerated() {
                group.addTask {
                    var random = PagingGenerator(seed: UInt64(index))
                    var model = [UInt8](repeating: 0, count: region.byteCount)
                    for _ in 0..<300 {
                        let count = Int.random(in: 1...Self.page, using: &random)
                        let offset = Int.random(in: 0...(region.byteCount - count), using: &random)
                        let bytes = [UInt8](repeating: UInt8.random(in: 1...255, using: &random), count: count)
                        try region.write(bytes, at: offset)
                        model.replaceSubrange(offset..<(offset + count), with: bytes)
                        #expect(try region.read(at: offset, count: count) == bytes)
                    }
                    #expect(try region.read(at: 0, count: region.byteCount) == model)
                }
            }
            try await group.waitForAll()
        }
        #expect(memory.statistics.peakResidentFrames == 2)
    }

    @Test("scoped page access reads and writes in place, and pages never written read as zeros without the store")
    func scopedAccessAndZeroPages() throws {
        let directory = try TemporaryDirectory()
        let memory = try EnclaveMemory(budget: Self.page, store: FileBackingStore(directory: directory.path))
        let region = try memory.makeRegion(named: "zeros", byteCount: 16 * Self.page)
        for page in 0..<region.pageCount {
            #expect(try region.withUnsafeBytes(ofPage: page) { $0.count == Self.page && $0.allSatisfy { $0 == 0 } })
        }
        #expect(memory.statistics.loads == 0 && memory.statistics.sealedWrites == 0)
        #expect(try directory.storeFiles().allSatisfy { try Data(contentsOf: $0).isEmpty })

        try region.withUnsafeMutableBytes(ofPage: 3) { _ = $0.initializeMemory(as: UInt8.self, repeating: 0xA5) }
        // One frame: reading page 4 evicts page 3, and must not see its bytes (freed frames are wiped).
        #expect(try region.read(at: 4 * Self.page, count: Self.page).allSatisfy { $0 == 0 })
        #expect(try region.read(at: 3 * Self.page - 1, count: 2) == [0, 0xA5])
        #expect(memory.statistics.sealedWrites == 1 && memory.statistics.loads >= 1)
    }

    @Test("a canary written all over a region never reaches the backing store, yet reads back")
    func canaryNeverInStore() throws {
        let directory = try TemporaryDirectory()
        let memory = try EnclaveMemory(budget: 4 * Self.page, store: FileBackingStore(directory: directory.path))
        let region = try memory.makeRegion(named: "secrets", byteCount: 64 * Self.page)
        let canary = try SecureRandom.bytes(count: 32)
        // Near the start of every page, straddling every page boundary, and at a few odd offsets (none overlapping).
        var offsets = Array(stride(from: 64, to: region.byteCount, by: Self.page))
        offsets += stride(from: Self.page - 16, to: region.byteCount - 32, by: Self.page)
        offsets += [1000, 50_000, 200_001]
        for offset in offsets { try region.write(canary, at: offset) }
        // Sweep the region twice more so every page is evicted at least once.
        for _ in 0..<2 {
            for page in 0..<region.pageCount { try region.withUnsafeMutableBytes(ofPage: page) { $0[4000] ^= 0 } }
        }
        #expect(memory.statistics.sealedWrites >= 64)

        let files = try directory.storeFiles()
        #expect(!files.isEmpty)
        var scanned = 0
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: file))
            scanned += bytes.count
            #expect(!bytes.contains(canary[..<16]), "canary (first half) found in \(file.lastPathComponent)")
            #expect(!bytes.contains(canary[16...]), "canary (second half) found in \(file.lastPathComponent)")
        }
        #expect(scanned >= 64 * Self.page)
        for offset in offsets { #expect(try region.read(at: offset, count: 32) == canary) }
    }

    /// What a malicious host does to the backing store between an eviction and the next load of page 0.
    enum Tampering: String, CaseIterable, CustomTestStringConvertible {
        case flipByte, swapPages, otherRegionPage, replayOlderVersion, truncate
        var testDescription: String { rawValue }
    }

    @Test(
        "a tampered, swapped, foreign, replayed or missing page is an integrity fault that poisons the region",
        arguments: Tampering.allCases)
    func integrityFaults(_ tampering: Tampering) throws {
        let directory = try TemporaryDirectory()
        let store = try FileBackingStore(directory: directory.path)
        // One frame: touching any other page evicts the resident one.
        let memory = try EnclaveMemory(budget: Self.page, store: store)
        let alpha = try memory.makeRegion(named: "alpha", byteCount: 4 * Self.page)
        let beta = try memory.makeRegion(named: "beta", byteCount: 4 * Self.page)
        let slot = 32 + Self.page + 16
        let alphaFile = store.path(forRegion: "alpha")
        try alpha.write([UInt8](repeating: 0x11, count: Self.page), at: 0)
        try alpha.write([UInt8](repeating: 0x22, count: Self.page), at: Self.page)
        try beta.write([UInt8](repeating: 0x33, count: Self.page), at: 0)
        try alpha.write([0x44], at: 2 * Self.page)
        // Untouched, page 0 comes back intact.
        #expect(try alpha.read(at: 0, count: Self.page) == [UInt8](repeating: 0x11, count: Self.page))
        try alpha.write([0x44], at: 2 * Self.page)

        let expected: IntegrityFault.Code
        switch tampering {
        case .flipByte:
            var bytes = try FileBytes(path: alphaFile)
            bytes[100 + 32] ^= 0x01
            try bytes.save()
            expected = .tampered
        case .swapPages:
            var bytes = try FileBytes(path: alphaFile)
            bytes.replaceSlot(0, slotSize: slot, with: bytes.slot(1, slotSize: slot))
            try bytes.save()
            expected = .swapped
        case .otherRegionPage:
            var bytes = try FileBytes(path: alphaFile)
            bytes.replaceSlot(
                0, slotSize: slot, with: try FileBytes(path: store.path(forRegion: "beta")).slot(0, slotSize: slot))
            try bytes.save()
            expected = .foreignRegion
        case .replayOlderVersion:
            let old = try FileBytes(path: alphaFile).slot(0, slotSize: slot)
            try alpha.write([0x55], at: 10)
            try alpha.write([0x44], at: 2 * Self.page)
            var bytes = try FileBytes(path: alphaFile)
            #expect(bytes.slot(0, slotSize: slot) != old, "page 0 was re-evicted at a newer version")
            bytes.replaceSlot(0, slotSize: slot, with: old)
            try bytes.save()
            expected = .replayed
        case .truncate:
            // Evicting page 2 first rewrites its slot, so slot 0 becomes a hole that reads as zeros.
            #expect(truncate(alphaFile, 0) == 0)
            expected = .missing
        }

        let fault = #expect(throws: IntegrityFault.self) { try alpha.read(at: 0, count: 8) }
        #expect(fault?.code == expected)
        #expect(fault?.region == "alpha" && fault?.page == 0)
        #expect(fault?.reason.contains("page 0 of region 'alpha'") == true)
        #expect(alpha.fault == fault)
        #expect(alpha.residentPageCount == 0)

        // Poisoned: every later access to the region is refused, resident or not, read or write.
        for access in [
            { _ = try alpha.read(at: 2 * Self.page, count: 1) },
            { try alpha.write([1], at: Self.page) },
            { try alpha.withUnsafeBytes(ofPage: 0) { _ in } },
        ] {
            let refusal = #expect(throws: IntegrityFault.self) { try access() }
            #expect(refusal?.code == .poisoned)
        }
        // The fault is the region's: another region keeps working until the runtime stops the enclave.
        #expect(try beta.read(at: 0, count: 4) == [0x33, 0x33, 0x33, 0x33])
    }

    @Test("resident frames never exceed the budget, and every region shares them")
    func budgetAccounting() throws {
        let directory = try TemporaryDirectory()
        let memory = try EnclaveMemory(budget: 3 * Self.page, store: FileBackingStore(directory: directory.path))
        let regions = try ["a", "b"].map { try memory.makeRegion(named: $0, byteCount: 16 * Self.page) }
        #expect(memory.frameCount == 3)
        var random = PagingGenerator(seed: 42)
        for step in 0..<400 {
            let region = regions[step % 2]
            let page = Int.random(in: 0..<region.pageCount, using: &random)
            try region.withUnsafeMutableBytes(ofPage: page) { $0[0] = UInt8(truncatingIfNeeded: step) }
            let resident = memory.statistics.residentFrames
            #expect(resident <= 3)
            #expect(regions.map(\.residentPageCount).reduce(0, +) == resident)
        }
        #expect(memory.statistics.peakResidentFrames == 3)
        #expect(memory.statistics.residentFrames == 3)
    }

    @Test("sizes that are not positive multiples of 4 KiB, bad names and out-of-range access are refused")
    func refusals() throws {
        let directory = try TemporaryDirectory()
        let store = try FileBackingStore(directory: directory.path)
        for budget in [0, -4096, 4095, 3 * 4096 + 1] {
            let error = #expect(throws: SealedMemoryError.self) { try EnclaveMemory(budget: budget, store: store) }
            #expect(error?.code == .invalidSize)
            #expect(error?.reason.contains("\(budget) bytes is not a positive multiple of 4096") == true)
        }
        let memory = try EnclaveMemory(budget: 2 * Self.page, store: store)
        for size in [0, 100, 5000, 2 * Self.page - 1] {
            let error = #expect(throws: SealedMemoryError.self) { try memory.makeRegion(named: "r", byteCount: size) }
            #expect(error?.code == .invalidSize)
            #expect(error?.reason == "region 'r' of \(size) bytes is not a positive multiple of 4096")
        }
        for name in ["", "a/b", "../up", String(repeating: "x", count: 65)] {
            let error = #expect(throws: SealedMemoryError.self) { try memory.makeRegion(named: name, byteCount: 4096) }
            #expect(error?.code == .invalidName)
        }
        let region = try memory.makeRegion(named: "r", byteCount: 2 * Self.page)
        #expect((try? memory.makeRegion(named: "r", byteCount: 4096)) == nil)
        for (offset, count) in [(-1, 1), (0, 2 * Self.page + 1), (2 * Self.page, 1), (Int.max, 2)] {
            let error = #expect(throws: SealedMemoryError.self) { try region.read(at: offset, count: count) }
            #expect(error?.code == .outOfBounds)
        }
        let error = #expect(throws: SealedMemoryError.self) { try region.withUnsafeBytes(ofPage: 2) { _ in } }
        #expect(error?.code == .outOfBounds)
        #expect(try region.read(at: 2 * Self.page, count: 0) == [])
    }

    @Test("a manifest's enclave.size and regions become the budget and the regions")
    func fromManifest() throws {
        let directory = try TemporaryDirectory()
        let manifest = EnclaveManifest(
            name: "demo", entrypoint: .builtin("echo"), size: 8 * 4096, productID: 1, svn: 1,
            regions: [.init(name: "weights", size: 64 * 4096), .init(name: "scratch", size: 4096)])
        let memory = try EnclaveMemory(manifest: manifest, store: FileBackingStore(directory: directory.path))
        #expect(memory.budget == 8 * 4096 && memory.frameCount == 8)
        #expect(memory.regionNames == ["scratch", "weights"])
        #expect(memory.region(named: "weights")?.byteCount == 64 * 4096)
        #expect(memory.region(named: "missing") == nil)
    }
}

/// A temporary directory removed when the value is no longer used.
private final class TemporaryDirectory {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("cloister-regions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Every file in the directory: the host's view of the backing store.
    func storeFiles() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
    }
}

/// A whole file's bytes, edited in memory and written back, as a host with access to the store would.
private struct FileBytes {
    let path: String
    var bytes: [UInt8]

    init(path: String) throws {
        self.path = path
        bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    subscript(index: Int) -> UInt8 {
        get { bytes[index] }
        set { bytes[index] = newValue }
    }

    func slot(_ index: Int, slotSize: Int) -> [UInt8] { Array(bytes[(index * slotSize)..<((index + 1) * slotSize)]) }

    mutating func replaceSlot(_ index: Int, slotSize: Int, with slot: [UInt8]) {
        bytes.replaceSubrange((index * slotSize)..<((index + 1) * slotSize), with: slot)
    }

    func save() throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
}

/// SplitMix64: small, fast and reproducible from its seed.
private struct PagingGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var value = state
        value = (value ^ (value >> 30)) &* 0xBF58_476D_1CE4_E5B9
        value = (value ^ (value >> 27)) &* 0x94D0_49BB_1331_11EB
        return value ^ (value >> 31)
    }
}
