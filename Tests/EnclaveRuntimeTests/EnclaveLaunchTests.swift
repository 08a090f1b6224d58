import EnclaveRuntime
import Foundation
import Testing

/// The `cloister-enclave` executable built beside the test binary.
private func enclaveImage() throws -> ExecutableImage {
    let directory = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    return try ExecutableImage(path: directory.appendingPathComponent("cloister-enclave").path)
}

@Suite("cloister-enclave launched by the hardened launcher")
struct EnclaveLaunchTests {
    @Test("the echo workload answers ECALLs over fd 3 and exits cleanly when the host closes the channel")
    func echoWorkload() throws {
        let image = try enclaveImage()
        let channels = try EnclaveChannelSet()
        let process = try EnclaveProcess.spawn(
            image: image, arguments: ["echo"], endpoints: channels.enclave,
            policy: LaunchPolicy(filesystem: FilesystemRule.runtimeLibraries))
        let caller = EnclaveCaller(channel: channels.host)
        #expect(try caller.call("echo", Array("hello enclave".utf8)) == Array("hello enclave".utf8))
        #expect(try caller.call("ping") == [])
        #expect(throws: EnclaveCallError.self) { try caller.call("no-such-ecall") }
        channels.host.shutdown()
        #expect(try process.wait() == .exited(0))
    }

    @Test("an unknown workload name is refused with exit status 64")
    func unknownWorkload() throws {
        let channels = try EnclaveChannelSet()
        let process = try EnclaveProcess.spawn(
            image: try enclaveImage(), arguments: ["no-such-workload"], endpoints: channels.enclave,
            standardStreams: StandardStreams(error: .null))
        #expect(try process.wait() == .exited(64))
    }
}
