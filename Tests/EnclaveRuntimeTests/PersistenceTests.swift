import EnclaveProtocol
import Glibc
import Testing

@Suite struct PersistenceTests {
    private func mode(of path: String) -> UInt32? {
        var status = stat()
        return stat(path, &status) == 0 ? UInt32(status.st_mode & 0o7777) : nil
    }

    @Test(arguments: [UInt32(0o600), 0o640, 0o666]) func writesExactContentsWithExactMode(mode: UInt32) throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let file = AtomicFile(path: directory + "/state", mode: mode)
        let contents = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try file.write(contents)
        #expect(try file.read() == contents)
        #expect(self.mode(of: file.path) == mode)
        try file.write([42])
        #expect(try file.read() == [42])
        #expect(try AtomicFile.entries(of: directory) == ["state"])
    }

    @Test func emptyContentsAreWrittenToo() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let file = AtomicFile(path: directory + "/empty")
        try file.write([])
        #expect(file.exists)
        #expect(try file.read() == [])
    }

    @Test func failureToCreateLeavesNoFileAndNamesPathAndCall() throws {
        // Even root cannot create files in /proc.
        let file = AtomicFile(path: "/proc/cloister-atomic-file-test")
        let error = try #require(throws: PersistenceError.self) { try file.write([1, 2, 3]) }
        #expect(error.code == .systemCall || error.code == .notFound)
        #expect(error.reason.contains("open(O_CREAT|O_EXCL) /proc/.tmp-cloister-atomic-file-test-"))
        #expect(error.reason.contains("errno"))
        #expect(!file.exists)
    }

    @Test func failedRenameRemovesItsTemporaryFileAndKeepsTheTarget() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let target = directory + "/occupied"
        #expect(mkdir(target, 0o700) == 0)
        #expect(mkdir(target + "/inside", 0o700) == 0)
        let error = try #require(throws: PersistenceError.self) { try AtomicFile(path: target).write([1, 2, 3]) }
        #expect(error.reason.contains("rename"))
        #expect(error.reason.contains(target))
        #expect(try AtomicFile.entries(of: directory) == ["occupied"])
        #expect(try AtomicFile.entries(of: target) == ["inside"])
    }

    @Test func writeIntoAReadOnlyDirectoryFailsCleanly() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let file = AtomicFile(path: directory + "/state")
        try file.write([1])
        #expect(chmod(directory, 0o555) == 0)
        defer { chmod(directory, 0o700) }
        let error = try Self.withoutRootsOverride {
            // The directory can be entered, so what is denied is the write in it.
            #expect(access(directory, X_OK) == 0)
            return try #require(throws: PersistenceError.self) { try file.write([2]) }
        }
        #expect(error.reason.contains("Permission denied"))
        #expect(try file.read() == [1])
        #expect(try AtomicFile.entries(of: directory) == ["state"])
    }

    /// `body`, run so that permissions bind even under root (as CI runs): root passes permission checks by
    /// CAP_DAC_OVERRIDE, and setting the filesystem uid from 0 to nobody's (65534) clears it and the other filesystem
    /// capabilities from this thread's effective set until the uid is 0 again (capabilities(7)); the test process's
    /// other threads keep theirs. `setfsuid` comes by `dlsym`: the Glibc module does not import <sys/fsuid.h>.
    private static func withoutRootsOverride<Result>(_ body: () throws -> Result) throws -> Result {
        guard geteuid() == 0 else { return try body() }
        let symbol = try #require(dlsym(nil, "setfsuid"), "glibc's setfsuid")
        let setFilesystemUID = unsafeBitCast(symbol, to: (@convention(c) (UInt32) -> Int32).self)
        _ = setFilesystemUID(65534)
        // A thread of the test pool left as nobody would break every test after it.
        defer { precondition(setFilesystemUID(0) == 65534 && setFilesystemUID(.max) == 0, "filesystem uid restored") }
        // An invalid uid changes nothing and returns the current one.
        try #require(setFilesystemUID(.max) == 65534, "this thread's filesystem uid is nobody's")
        return try body()
    }

    @Test func readingAMissingFileIsNotFound() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let file = AtomicFile(path: directory + "/missing")
        let error = try #require(throws: PersistenceError.self) { try file.read() }
        #expect(error.code == .notFound)
        #expect(error.reason.contains(file.path))
    }

    @Test func removeStaleTemporariesRemovesOnlyTemporaries() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        try AtomicFile(path: directory + "/keep").write([1])
        for name in [".tmp-keep-0011", ".tmp-other-ff"] {
            let descriptor = creat(directory + "/" + name, 0o600)
            #expect(descriptor >= 0)
            close(descriptor)
        }
        #expect(try AtomicFile.removeStaleTemporaries(in: directory) == 2)
        #expect(try AtomicFile.entries(of: directory) == ["keep"])
    }

    @Test("a target removes only its own writers' temporaries, not another target's or one sharing its prefix")
    func removeStaleTemporariesOfOneTarget() throws {
        let directory = try SealingFixtures.temporaryDirectory()
        defer { SealingFixtures.remove(directory) }
        let job = AtomicFile(path: directory + "/job.sealed")
        try job.write([1])
        for name in [".tmp-job.sealed-0011", ".tmp-job.sealed-ff", ".tmp-job.sealed.old-22", ".tmp-other-33"] {
            let descriptor = creat(directory + "/" + name, 0o600)
            #expect(descriptor >= 0)
            close(descriptor)
        }
        #expect(try job.removeStaleTemporaries() == 2)
        #expect(
            try AtomicFile.entries(of: directory).sorted() == [".tmp-job.sealed.old-22", ".tmp-other-33", "job.sealed"])
        #expect(try job.read() == [1])
    }

    @Test func pathComponents() {
        #expect(AtomicFile(path: "/a/b/c").directory == "/a/b")
        #expect(AtomicFile(path: "/a/b/c").name == "c")
        #expect(AtomicFile(path: "/c").directory == "/")
        #expect(AtomicFile(path: "c").directory == ".")
    }
}
