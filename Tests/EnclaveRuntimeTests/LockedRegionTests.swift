import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import Testing

@Suite struct LockedRegionTests {
    @Test("wipe zeroes the region and close makes it unusable")
    func wipeAndClose() throws {
        let region = try LockedRegion(byteCount: 10_000)
        try region.withUnsafeMutableBytes { bytes in
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index | 1) }
        }
        #expect(try region.withUnsafeBytes { $0.allSatisfy { $0 != 0 } })
        region.wipe()
        #expect(try region.withUnsafeBytes { $0.count == 10_000 && $0.allSatisfy { $0 == 0 } })
        region.close()
        let error = #expect(throws: LaunchError.self) { try region.withUnsafeBytes { $0.count } }
        #expect(error?.code == .regionClosed)
        region.close()
    }

    @Test("the kernel marks the region locked, excluded from dumps and wiped on fork")
    func kernelFlags() throws {
        let region = try LockedRegion(byteCount: 3 * 4096 + 1)
        let address = try region.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) }
        let flags = try vmFlags(containing: address)
        #expect(flags.contains("dd"), "MADV_DONTDUMP")
        #expect(flags.contains("wf"), "MADV_WIPEONFORK")
        #expect(flags.contains("lo") == region.isLocked)
        #expect(region.isLocked || getuid() != 0, "root can always mlock")
        #expect(region.mechanisms == (region.isLocked ? [.lockedRegions] : []))
    }

    @Test("a refused lock is explained by RLIMIT_MEMLOCK: its current value and the bytes asked")
    func lockRefusalNamesTheLimit() throws {
        let limit = try #require(LockedRegion.memoryLockLimit, "RLIMIT_MEMLOCK is unlimited here")
        let ulimit = try runTool("/bin/sh", ["-c", "ulimit -l"]).standardOutput
        #expect(UInt64(ulimit.trimmingCharacters(in: .whitespacesAndNewlines)).map { $0 * 1024 } == limit)
        #expect(
            LockedRegion.lockRefusal(byteCount: limit + 4096)
                == "mlock of \(limit + 4096) bytes exceeds RLIMIT_MEMLOCK (\(limit) bytes), so sealed memory may be "
                + "swapped; raise the limit (ulimit -l, systemd LimitMEMLOCK=), or launch with CAP_SYS_RESOURCE, with "
                + "which the platform raises it for the enclave")
        #expect(
            LockedRegion.lockRefusal(byteCount: limit).hasPrefix(
                "mlock of \(limit) bytes failed within RLIMIT_MEMLOCK (\(limit) bytes)"))
    }

    @Test("the memory an enclave locks: its resident budget, and a key page and the version table of each region")
    func lockedByteCount() throws {
        let manifest = try EnclaveManifest(toml: ManifestFixture.toml)
        // 64 MiB of frames; scratch (16 MiB, 4096 pages): 4 KiB key + 32 KiB of versions; weights (2 pages): 4 + 4 KiB.
        #expect(manifest.lockedByteCount == (64 << 20) + 4096 + 32768 + 4096 + 4096)
    }

    /// The VmFlags of the mapping that contains `address`, from /proc/self/smaps.
    private func vmFlags(containing address: UInt) throws -> [Substring] {
        // procfs files report size 0, so read to end of file rather than by size.
        let file = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC)
        guard file >= 0 else { throw POSIXError(.ENOENT) }
        let smaps = String(decoding: try readAll(FileDescriptor(adopting: file)), as: UTF8.self)
        var inside = false
        for line in smaps.split(separator: "\n") {
            if let range = line.split(separator: " ").first, range.contains("-"), !line.hasPrefix("VmFlags") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= address && address < bounds[1]
            } else if inside && line.hasPrefix("VmFlags:") {
                return line.dropFirst("VmFlags:".count).split(separator: " ")
            }
        }
        throw POSIXError(.ENOENT)
    }
}
