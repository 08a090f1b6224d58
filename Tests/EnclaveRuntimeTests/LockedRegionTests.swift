import EnclaveRuntime
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
