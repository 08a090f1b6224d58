import CloisterTestSupport
import Foundation
import Testing
import VendorCollateral

@Suite("collateral cached on disk until its earliest next update")
struct PCSCollateralCacheTests {
    @Test("fetched once, then served from memory and from the file while current; fetched again after next update")
    func reuseUntilNextUpdate() async throws {
        let pccs = try FakePCCS()
        let directory = try TestEnvironment.temporaryDirectory("pccs-cache").path
        let key = try DCAPVector.sgx.key
        try await pccs.serving { base in
            let client = try PCSClient(baseURL: base, requestTimeout: patience)
            let cache = try PCSCollateralCache(client: client, directory: directory)
            let first = try await cache.collateral(for: key, at: verifyAt)
            #expect(pccs.requested.count == 4)
            // SGX: the QE identity's next update, 2025-07-19T10:01:18Z, is the earliest of the four.
            #expect(first.nextUpdate == Date(timeIntervalSince1970: 1_752_919_278))
            let file = directory + "/sgx-00A067110000-processor.json"
            #expect(FileManager.default.contents(atPath: file).map(Array.init) == first.json)

            #expect(try await cache.collateral(for: key, at: verifyAt).json == first.json)
            let reopened = try PCSCollateralCache(client: client, directory: directory)
            #expect(try await reopened.collateral(for: key, at: verifyAt).json == first.json)
            #expect(pccs.requested.count == 4, "served from memory, then from the file")

            _ = try await reopened.collateral(for: key, at: afterNextUpdate)
            #expect(pccs.requested.count == 8, "fetched again once past next update")
            _ = try await reopened.collateral(for: key, at: first.nextUpdate)
            #expect(pccs.requested.count == 12, "at next update is past it")
        }
    }

    @Test("a cache file that does not read, or holds other collateral, is fetched again, not fatal")
    func corruptFiles() async throws {
        let pccs = try FakePCCS()
        let directory = try TestEnvironment.temporaryDirectory("pccs-corrupt").path
        let key = try DCAPVector.sgx.key
        let file = directory + "/sgx-00A067110000-processor.json"
        try await pccs.serving { base in
            let client = try PCSClient(baseURL: base, requestTimeout: patience)
            for (index, contents) in [
                Array("{\"pck_crl\": ".utf8), [0xFF, 0x00], try DCAPVector.tdx.collateralBytes,
            ].enumerated() {
                try Data(contents).write(to: URL(fileURLWithPath: file))
                let fetched = try await PCSCollateralCache(client: client, directory: directory).collateral(
                    for: key, at: verifyAt)
                #expect(fetched.key == key)
                #expect(pccs.requested.count == 4 * (index + 1))
                #expect(FileManager.default.contents(atPath: file).map(Array.init) == fetched.json)
            }
        }
    }

    @Test("concurrent appraisals of one platform share one fetch")
    func sharedFetch() async throws {
        let pccs = try FakePCCS()
        let key = try DCAPVector.tdx.key
        try await pccs.serving { base in
            let cache = try PCSCollateralCache(
                client: PCSClient(baseURL: base, requestTimeout: patience),
                directory: TestEnvironment.temporaryDirectory("pccs-shared").path)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { _ = try await cache.collateral(for: key, at: verifyAt) } }
                try await group.waitForAll()
            }
            #expect(pccs.requested.count == 4)
        }
    }

    @Test("a PCCS error reaches the caller, and nothing is written")
    func errorsPassThrough() async throws {
        let pccs = try FakePCCS()
        let directory = try TestEnvironment.temporaryDirectory("pccs-error").path
        pccs.set(.status(503), for: "/qe/identity")
        try await pccs.serving { base in
            let cache = try PCSCollateralCache(
                client: PCSClient(baseURL: base, requestTimeout: patience), directory: directory)
            await #expect(throws: PCSError.self) { try await cache.collateral(for: DCAPVector.sgx.key, at: verifyAt) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }

    @Test("the default directory follows XDG: $XDG_CACHE_HOME, else ~/.cache")
    func defaultDirectory() throws {
        #expect(
            PCSCollateralCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "/c", "HOME": "/h"])
                == "/c/cloister/pccs")
        #expect(PCSCollateralCache.defaultDirectory(environment: ["HOME": "/h"]) == "/h/.cache/cloister/pccs")
        #expect(PCSCollateralCache.defaultDirectory(environment: ["XDG_CACHE_HOME": "relative"]) == nil)
        #expect(throws: PCSError.self) {
            try PCSCollateralCache(client: PCSClient(baseURL: "https://pccs.example"), directory: "/proc/cloister")
        }
    }
}
