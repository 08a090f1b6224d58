import CEnclaveSandbox

/// How the enclave's allocator treats large blocks. By default glibc maps every block past 128 KiB (adaptively, up
/// to 32 MiB) as fresh pages and unmaps it when freed, so a workload that copies megabytes per call pays a page fault
/// and a zeroed page for every 4 KiB, every call, serialised on the process's memory map.
public enum HeapPolicy {
    /// Serves blocks up to `bytes` (at most 32 MiB, glibc's bound) from the heap and keeps up to four times that freed
    /// for reuse. Returns false when the allocator refused.
    @discardableResult
    public static func keepFreedBuffers(upTo bytes: Int) -> Bool {
        let largest = min(bytes, 32 << 20)
        return cloister_keep_freed_memory(largest, 4 * largest) != 0
    }
}
