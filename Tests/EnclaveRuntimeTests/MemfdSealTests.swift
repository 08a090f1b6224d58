import CEnclaveSandbox
import Foundation
import Glibc
import Testing

@Suite("Sealing a measured copy: EBUSY is retried with backoff, then reported")
struct MemfdSealTests {
    /// A data memfd holding one page, and a writable shared mapping of it (which makes F_SEAL_WRITE answer EBUSY).
    static func mappedCopy() throws -> (descriptor: Int32, mapping: UnsafeMutableRawPointer) {
        let descriptor = cloister_memfd_create_data("seal-test")
        try #require(descriptor >= 0)
        let page = [UInt8](repeating: 7, count: 4096)
        try #require(page.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) } == 4096)
        let mapping = mmap(nil, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0)
        try #require(mapping != MAP_FAILED)
        return (descriptor, mapping!)
    }

    @Test("a mapping that stays writable: EBUSY after 127 ms of retries; once unmapped, the seal holds")
    func persistentBusy() throws {
        let (descriptor, mapping) = try Self.mappedCopy()
        defer { close(descriptor) }
        let start = ContinuousClock.now
        #expect(cloister_memfd_seal(descriptor) == -1)
        #expect(errno == EBUSY)
        #expect(ContinuousClock.now - start >= .milliseconds(127))
        munmap(mapping, 4096)
        #expect(cloister_memfd_seal(descriptor) == 0)
        let byte: [UInt8] = [1]
        #expect(byte.withUnsafeBytes { write(descriptor, $0.baseAddress, 1) } == -1 && errno == EPERM)
    }

    @Test("a reference released while the seal retries: the seal succeeds")
    func transientBusy() throws {
        let (descriptor, mapping) = try Self.mappedCopy()
        defer { close(descriptor) }
        let address = Int(bitPattern: mapping)
        let release = Thread {
            usleep(10_000)
            munmap(UnsafeMutableRawPointer(bitPattern: address), 4096)
        }
        release.start()
        #expect(cloister_memfd_seal(descriptor) == 0)
    }
}
