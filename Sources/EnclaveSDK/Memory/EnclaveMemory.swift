internal import CEnclaveSandbox
public import EnclaveProtocol
import Synchronization

/// An enclave's resident memory for its sealed regions: `budget` bytes (its EPC) of locked, non-dumpable 4 KiB frames
/// shared by all regions, and a host-visible backing store for the pages that do not fit.
///
/// Pages fault in on access. When no frame is free, a clock (second-chance) sweep picks a victim; a page written
/// since it was loaded is sealed by its region (`RegionSealer`) at a fresh version and written to the store, a clean
/// page is dropped because the store already holds its current version. The version of every evicted page stays
/// inside the enclave, in locked memory, so loading checks (region, page, version) and a tampered, swapped or replayed
/// page is an `IntegrityFault`. Freed frames are wiped. Pages never written read as zeros without touching the store.
///
/// Access is serialised by one lock: a region's closures must not access sealed memory themselves.
public final class EnclaveMemory: Sendable {
    /// The page and frame size in bytes.
    public static let pageSize = 4096

    /// The resident budget in bytes.
    public let budget: Int
    /// The number of resident frames (`budget / pageSize`).
    public let frameCount: Int
    /// Where evicted pages go.
    public let store: any BackingStore
    private let frames: LockedRegion
    private let state: Mutex<State>

    /// Memory with `budget` bytes of resident frames, evicting to `store`; `budget` must be a positive multiple of
    /// 4 KiB.
    public init(budget: Int, store: any BackingStore) throws {
        guard budget > 0, budget % Self.pageSize == 0 else {
            throw SealedMemoryError(
                .invalidSize, "a resident budget of \(budget) bytes is not a positive multiple of \(Self.pageSize)")
        }
        self.budget = budget
        frameCount = budget / Self.pageSize
        self.store = store
        frames = try LockedRegion(byteCount: budget)
        state = Mutex(State(frameCount: frameCount))
    }

    /// The memory a manifest declares: its `enclave.size` budget and every region of `enclave.regions`.
    public convenience init(manifest: EnclaveManifest, store: any BackingStore) throws {
        try self.init(budget: try Self.byteCount(manifest.size, of: "the resident budget"), store: store)
        for region in manifest.regions {
            _ = try makeRegion(named: region.name, byteCount: try Self.byteCount(region.size, of: region.name))
        }
    }

    /// Whether the frames are locked in RAM (see `LockedRegion.isLocked`).
    public var isLocked: Bool { frames.isLocked }

    /// Counters since the memory was created.
    public var statistics: SealedMemoryStatistics { state.withLock { $0.statistics } }

    /// The names of the regions, in creation order.
    public var regionNames: [String] { state.withLock { $0.regions.map(\.sealer.name) } }

    /// Adds a zero-filled region of `byteCount` bytes (a positive multiple of 4 KiB) with a fresh random key.
    public func makeRegion(named name: String, byteCount: Int) throws -> SealedRegion {
        guard !name.isEmpty, name.utf8.count <= EnclaveManifest.maximumNameLength,
            name.utf8.allSatisfy(Self.isNameByte)
        else {
            throw SealedMemoryError(
                .invalidName,
                "region name '\(name)' must be 1 to \(EnclaveManifest.maximumNameLength) letters, digits, '.', '-' or '_'"
            )
        }
        guard byteCount > 0, byteCount % Self.pageSize == 0 else {
            throw SealedMemoryError(
                .invalidSize, "region '\(name)' of \(byteCount) bytes is not a positive multiple of \(Self.pageSize)")
        }
        let table = try RegionTable(sealer: RegionSealer(name: name), pageCount: byteCount / Self.pageSize)
        let index = try state.withLock { state in
            guard state.regionIndex[name] == nil else {
                throw SealedMemoryError(.duplicateRegion, "region '\(name)' already exists")
            }
            state.regions.append(table)
            state.regionIndex[name] = state.regions.count - 1
            return state.regions.count - 1
        }
        return SealedRegion(memory: self, index: index, name: name, byteCount: byteCount)
    }

    /// The region called `name`, if there is one.
    public func region(named name: String) -> SealedRegion? {
        state.withLock { state in
            state.regionIndex[name].map {
                SealedRegion(
                    memory: self, index: $0, name: name, byteCount: state.regions[$0].pageCount * Self.pageSize)
            }
        }
    }

    // MARK: - Paging (for SealedRegion)

    /// Calls `body` with page `page` of region `region`, faulting it in first; `forWriting` marks it dirty.
    func withPage<R>(
        region: Int, page: Int, forWriting: Bool, _ body: (UnsafeMutableRawBufferPointer) throws -> R
    ) throws -> R {
        // The result is carried out of the lock in a local: `Mutex.withLock` would require it to be `sending`.
        var result: R?
        try state.withLock { state in
            let frame = try residentFrame(region: region, page: page, &state)
            state.frames[frame].referenced = true
            if forWriting { state.frames[frame].dirty = true }
            result = try frames.withUnsafeMutableBytes { try body(Self.frameBytes(frame, in: $0)) }
        }
        return result!
    }

    /// The fault that poisoned region `region`, if any.
    func fault(ofRegion region: Int) -> IntegrityFault? {
        state.withLock { $0.regions[region].fault }
    }

    /// How many of region `region`'s pages are resident.
    func residentPageCount(ofRegion region: Int) -> Int {
        state.withLock { state in state.regions[region].frameOfPage.count { $0 >= 0 } }
    }

    private func residentFrame(region: Int, page: Int, _ state: inout State) throws -> Int {
        let table = state.regions[region]
        if let fault = table.fault {
            throw IntegrityFault(
                .poisoned, region: table.sealer.name, page: page,
                "region '\(table.sealer.name)' is poisoned by an earlier integrity fault (\(fault.code) on page "
                    + "\(fault.page)); the enclave must stop")
        }
        guard page >= 0, page < table.pageCount else {
            throw SealedMemoryError(
                .outOfBounds, "page \(page) is outside region '\(table.sealer.name)' of \(table.pageCount) pages")
        }
        if table.frameOfPage[page] >= 0 { return table.frameOfPage[page] }
        let frame = try freeFrame(&state)
        do {
            let version = try table.version(ofPage: page)
            if version != 0 {
                let record = try store.read(
                    region: table.sealer.name, slot: page, byteCount: RegionSealer.recordByteCount)
                try frames.withUnsafeMutableBytes { frames in
                    try table.sealer.open(
                        record, into: Self.frameBytes(frame, in: frames), index: page, version: version)
                }
                state.statistics.loads += 1
            }
        } catch {
            wipe(frame)
            state.freeFrames.append(frame)
            if let fault = error as? IntegrityFault { poison(region: region, with: fault, &state) }
            throw error
        }
        state.frames[frame] = Frame(region: region, page: page)
        state.regions[region].frameOfPage[page] = frame
        state.statistics.residentFrames += 1
        state.statistics.peakResidentFrames = max(
            state.statistics.peakResidentFrames, state.statistics.residentFrames)
        return frame
    }

    /// A free frame, evicting the first unreferenced page the clock hand finds when none is free.
    private func freeFrame(_ state: inout State) throws -> Int {
        if let frame = state.freeFrames.popLast() { return frame }
        while true {
            let frame = state.hand
            state.hand = (frame + 1) % frameCount
            if state.frames[frame].referenced {
                state.frames[frame].referenced = false
                continue
            }
            try evict(frame, &state)
            return frame
        }
    }

    /// Seals the page in `frame` to the store if it is dirty, then wipes the frame and unmaps the page.
    private func evict(_ frame: Int, _ state: inout State) throws {
        let owner = state.frames[frame]
        let table = state.regions[owner.region]
        if owner.dirty {
            // Consume the version before sealing: a failed write must never lead to a nonce being used twice.
            let version = state.regions[owner.region].nextVersion
            state.regions[owner.region].nextVersion += 1
            let record = try frames.withUnsafeBytes { frames in
                try table.sealer.seal(
                    UnsafeRawBufferPointer(Self.frameBytes(frame, in: UnsafeMutableRawBufferPointer(mutating: frames))),
                    index: owner.page, version: version)
            }
            try store.write(record, region: table.sealer.name, slot: owner.page)
            try table.setVersion(version, ofPage: owner.page)
            state.statistics.sealedWrites += 1
        }
        release(frame, &state)
        state.statistics.evictions += 1
    }

    /// Wipes `frame`, unmaps its page and marks it unowned (the caller reuses or frees it).
    private func release(_ frame: Int, _ state: inout State) {
        let owner = state.frames[frame]
        wipe(frame)
        state.regions[owner.region].frameOfPage[owner.page] = -1
        state.frames[frame] = Frame(region: -1, page: -1)
        state.statistics.residentFrames -= 1
    }

    /// Records `fault` on the region and wipes and frees every frame it holds.
    private func poison(region: Int, with fault: IntegrityFault, _ state: inout State) {
        state.regions[region].fault = fault
        for frame in state.regions[region].frameOfPage where frame >= 0 {
            release(frame, &state)
            state.freeFrames.append(frame)
        }
    }

    private func wipe(_ frame: Int) {
        _ = try? frames.withUnsafeMutableBytes { frames in
            let bytes = Self.frameBytes(frame, in: frames)
            cloister_secret_wipe(bytes.baseAddress, bytes.count)
        }
    }

    private static func frameBytes(_ frame: Int, in frames: UnsafeMutableRawBufferPointer)
        -> UnsafeMutableRawBufferPointer
    {
        UnsafeMutableRawBufferPointer(rebasing: frames[(frame * pageSize)..<((frame + 1) * pageSize)])
    }

    private static func byteCount(_ size: UInt64, of what: String) throws -> Int {
        guard let count = Int(exactly: size) else {
            throw SealedMemoryError(.invalidSize, "\(what) of \(size) bytes does not fit in memory")
        }
        return count
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }
}

/// Paging counters of an `EnclaveMemory`.
public struct SealedMemoryStatistics: Sendable, Hashable {
    /// Frames holding a page now (never more than the budget's frame count).
    public var residentFrames = 0
    /// The most frames that ever held a page at once.
    public var peakResidentFrames = 0
    /// Pages removed from their frame to make room.
    public var evictions = 0
    /// Evicted pages that were sealed and written to the store (dirty ones; clean pages are just dropped).
    public var sealedWrites = 0
    /// Pages read back from the store, verified and decrypted.
    public var loads = 0
}

/// The enclave-side state of one frame.
private struct Frame {
    var region: Int
    var page: Int
    /// Set on access, cleared by the clock hand: a second chance before eviction.
    var referenced = false
    /// Written since it was loaded, so it must be sealed to the store on eviction.
    var dirty = false
}

/// The enclave-side state of one region: its sealer, where its pages are, and their versions.
private struct RegionTable {
    let sealer: RegionSealer
    let pageCount: Int
    /// The version of each page's last sealed copy (0: never evicted dirty), one `UInt64` per page, in locked memory.
    let versions: LockedRegion
    /// The frame each page is in, or -1.
    var frameOfPage: [Int]
    /// The next version to seal at: one counter per region, so (page, version) nonces never repeat.
    var nextVersion: UInt64 = 1
    /// The fault that poisoned the region.
    var fault: IntegrityFault?

    init(sealer: RegionSealer, pageCount: Int) throws {
        self.sealer = sealer
        self.pageCount = pageCount
        versions = try LockedRegion(byteCount: pageCount * MemoryLayout<UInt64>.size)
        frameOfPage = Array(repeating: -1, count: pageCount)
    }

    func version(ofPage page: Int) throws -> UInt64 {
        try versions.withUnsafeBytes { $0.load(fromByteOffset: page * 8, as: UInt64.self) }
    }

    func setVersion(_ version: UInt64, ofPage page: Int) throws {
        try versions.withUnsafeMutableBytes { $0.storeBytes(of: version, toByteOffset: page * 8, as: UInt64.self) }
    }
}

private struct State {
    var frames: [Frame]
    var freeFrames: [Int]
    var hand = 0
    var regions: [RegionTable] = []
    var regionIndex: [String: Int] = [:]
    var statistics = SealedMemoryStatistics()

    init(frameCount: Int) {
        frames = Array(repeating: Frame(region: -1, page: -1), count: frameCount)
        freeFrames = Array((0..<frameCount).reversed())
    }
}
