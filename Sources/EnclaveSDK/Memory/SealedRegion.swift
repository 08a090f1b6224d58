public import CloisterCrypto

/// A named region of sealed memory: plaintext only in the enclave's locked frames, encrypted and versioned whenever
/// one of its pages is evicted to the host-visible backing store (see `EnclaveMemory`).
///
/// Accesses throw `IntegrityFault` when a page comes back altered, swapped or replayed; the region is then poisoned
/// and refuses every later access, and the runtime terminates the enclave.
public final class SealedRegion: Sendable {
    /// The region's name, as declared in the manifest.
    public let name: String
    /// The region's size in bytes, a multiple of `EnclaveMemory.pageSize`.
    public let byteCount: Int
    /// The memory whose frames the region shares.
    public let memory: EnclaveMemory
    private let index: Int

    init(memory: EnclaveMemory, index: Int, name: String, byteCount: Int) {
        self.memory = memory
        self.index = index
        self.name = name
        self.byteCount = byteCount
    }

    /// The number of 4 KiB pages.
    public var pageCount: Int { byteCount / EnclaveMemory.pageSize }

    /// The integrity fault that poisoned the region, if one did.
    public var fault: IntegrityFault? { memory.fault(ofRegion: index) }

    /// How many of the region's pages are resident now.
    public var residentPageCount: Int { memory.residentPageCount(ofRegion: index) }

    /// The `count` bytes at `offset`.
    public func read(at offset: Int, count: Int) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: count)
        try output.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return output
    }

    /// Copies the `output.count` bytes at `offset` into `output` (no allocation: for reads in a loop).
    public func read(at offset: Int, into output: UnsafeMutableRawBufferPointer) throws {
        try checkRange(offset, output.count)
        try forEachPage(offset, output.count) { page, pageOffset, outputOffset, length in
            try memory.withPage(region: index, page: page, forWriting: false) { frame in
                output.baseAddress!.advanced(by: outputOffset).copyMemory(
                    from: frame.baseAddress!.advanced(by: pageOffset), byteCount: length)
            }
        }
    }

    /// Writes `bytes` at `offset`.
    public func write(_ bytes: some ContiguousBytesView, at offset: Int) throws {
        try bytes.withBytes { input in
            try checkRange(offset, input.count)
            try forEachPage(offset, input.count) { page, pageOffset, inputOffset, length in
                try memory.withPage(region: index, page: page, forWriting: true) { frame in
                    frame.baseAddress!.advanced(by: pageOffset).copyMemory(
                        from: input.baseAddress!.advanced(by: inputOffset), byteCount: length)
                }
            }
        }
    }

    /// Calls `body` with page `page` (4 KiB), resident and pinned for the call. `body` must not access sealed memory.
    public func withUnsafeBytes<R>(ofPage page: Int, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        try memory.withPage(region: index, page: page, forWriting: false) { try body(UnsafeRawBufferPointer($0)) }
    }

    /// Calls `body` with page `page` (4 KiB) to read and modify, resident and pinned for the call. `body` must not
    /// access sealed memory.
    public func withUnsafeMutableBytes<R>(ofPage page: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> R)
        throws -> R
    {
        try memory.withPage(region: index, page: page, forWriting: true, body)
    }

    private func checkRange(_ offset: Int, _ count: Int) throws {
        guard offset >= 0, count >= 0, offset <= byteCount, count <= byteCount - offset else {
            throw SealedMemoryError(
                .outOfBounds, "\(count) bytes at offset \(offset) reach outside region '\(name)' of \(byteCount) bytes")
        }
    }

    /// Splits `count` bytes at `offset` into per-page pieces: (page, offset in page, offset in the range, length).
    private func forEachPage(_ offset: Int, _ count: Int, _ body: (Int, Int, Int, Int) throws -> Void) throws {
        var done = 0
        while done < count {
            let position = offset + done
            let pageOffset = position % EnclaveMemory.pageSize
            let length = min(count - done, EnclaveMemory.pageSize - pageOffset)
            try body(position / EnclaveMemory.pageSize, pageOffset, done, length)
            done += length
        }
    }
}
