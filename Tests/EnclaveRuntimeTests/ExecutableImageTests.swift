import CloisterTestSupport
import Foundation
import Testing

@testable import EnclavePlatform
@testable import EnclaveProtocol

@Suite struct ExecutableImageTests {
    @Test("the measurement is the SHA-384 of the file, as sha384sum computes it")
    func measurementMatchesSha384sum() throws {
        let image = try ExecutableImage(path: "/bin/cat")
        let expected = try runTool("/usr/bin/sha384sum", ["/bin/cat"]).standardOutput.prefix(96)
        #expect(hexString(image.sha384) == String(expected))
        #expect(image.size == (try FileManager.default.attributesOfItem(atPath: "/bin/cat")[.size] as? Int))
    }

    @Test("a one-byte change before measuring changes the measurement")
    func oneByteChangesTheHash() throws {
        let directory = try TestEnvironment.temporaryDirectory("image")
        let path = directory.appendingPathComponent("echo").path
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/bin/echo")))
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let original = try ExecutableImage(path: path)
        bytes[bytes.count / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let changed = try ExecutableImage(path: path)
        #expect(original.sha384 != changed.sha384)
        #expect(original.size == changed.size)
    }

    @Test("overwriting the file after measuring changes neither what runs nor the measurement")
    func diskChangesAfterMeasuringHaveNoEffect() throws {
        let directory = try TestEnvironment.temporaryDirectory("image")
        let path = directory.appendingPathComponent("echo").path
        try FileManager.default.copyItem(atPath: "/bin/echo", toPath: path)
        let image = try ExecutableImage(path: path)
        let measured = image.sha384
        // Replace the program on disk with another one, in place (same inode) and then by rename.
        try Data(contentsOf: URL(fileURLWithPath: "/bin/cat")).write(to: URL(fileURLWithPath: path))
        let output = try runEnclave(image, ["still", "echo"])
        #expect(output.standardOutput == "still echo\n")
        #expect(output.termination == .exited(0))
        #expect(image.sha384 == measured)
        #expect(try ExecutableImage(path: path).sha384 != measured)
    }

    @Test("the running process's executable is exactly the measured bytes")
    func runningBytesAreMeasuredBytes() throws {
        let directory = try TestEnvironment.temporaryDirectory("image")
        let path = directory.appendingPathComponent("cat").path
        try FileManager.default.copyItem(atPath: "/bin/cat", toPath: path)
        let image = try ExecutableImage(path: path)
        try Data("#!/bin/sh\necho swapped\n".utf8).write(to: URL(fileURLWithPath: path))
        let input = try FileDescriptor.pipe()
        let channels = try EnclaveChannelSet()
        let process = try EnclaveProcess.spawn(
            image: image, endpoints: channels.enclave, standardStreams: StandardStreams(input: .descriptor(input.read)))
        // cat blocks reading the pipe we hold open, so the process is still there to inspect.
        let running = try withExtendedLifetime(input) {
            try runTool("/usr/bin/sha384sum", ["/proc/\(process.pid)/exe"]).standardOutput.prefix(96)
        }
        #expect(String(running) == hexString(image.sha384))
        try process.signal(SIGTERM)
        #expect(try process.wait() == .signaled(SIGTERM))
    }

    @Test("the image is sealed: it cannot be written, truncated or grown")
    func imageIsSealed() throws {
        let image = try ExecutableImage(path: "/bin/echo")
        let fd = image.descriptor.rawValue
        var byte: UInt8 = 0
        #expect(pwrite(fd, &byte, 1, 0) == -1 && errno == EPERM)
        #expect(ftruncate(fd, 0) == -1 && errno == EPERM)
        #expect(ftruncate(fd, off_t(image.size + 1)) == -1 && errno == EPERM)
        #expect(fcntl(fd, F_GETFL) & O_ACCMODE == O_RDWR)
    }

    /// The interpreter and the shared libraries readelf(1) reads from the file at `path`.
    private func readelfDependencies(_ path: String) throws -> [String] {
        let output = try runTool("/usr/bin/readelf", ["--program-headers", "--dynamic", "--wide", path])
        return output.standardOutput.split(separator: "\n").compactMap { line -> String? in
            guard line.contains("program interpreter:") || line.contains("(NEEDED)"),
                let open = line.lastIndex(where: { $0 == " " || $0 == "[" }), let close = line.lastIndex(of: "]")
            else { return nil }
            return String(line[line.index(after: open)..<close])
        }
    }

    @Test("a program's loader, libraries and machine are read from its headers as readelf reads them")
    func loadInfo() throws {
        for path in ["/bin/sh", "/usr/bin/python3"] {
            let image = try ExecutableImage(path: path)
            let info = try ELFLoadInfo(reading: image.descriptor, size: image.size, path: path)
            let expected = try readelfDependencies(path)
            #expect(expected.first == "/lib64/ld-linux-x86-64.so.2" && expected.contains("libc.so.6"), "\(path)")
            #expect([info.interpreter].compactMap { $0 } + info.neededLibraries == expected, "\(path)")
            #expect(info.machine == 62, "EM_X86_64")
            #expect(info.searchPaths == [])
        }
        let running = try ELFLoadInfo.runningProcess.get()
        #expect(running.interpreter == "/lib64/ld-linux-x86-64.so.2")
    }

    @Test(
        "directories, devices and missing files are refused with the path named",
        arguments: [
            "/tmp", "/dev/null", "/nonexistent/cloister-image",
        ])
    func refusesNonRegularFiles(path: String) {
        let error = #expect(throws: LaunchError.self) { try ExecutableImage(path: path) }
        #expect(error?.code == .invalidExecutable)
        #expect(error?.reason.contains("'\(path)'") == true)
    }
}
