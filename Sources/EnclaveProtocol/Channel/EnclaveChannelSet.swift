import Synchronization

/// The enclave's ends of its two channels, given to exactly one `EnclaveProcess.spawn`.
///
/// Spawning takes them out, so the launcher keeps no copy: when the enclave exits, the host and the platform see
/// their channels closed instead of waiting forever on a peer the launcher itself still holds open.
public final class EnclaveEndpoints: Sendable {
    private let ends: Mutex<(ecall: FileDescriptor, platform: FileDescriptor)?>

    /// The ends that become fd 3 (ECALL, to the host) and fd 4 (to the platform) in the enclave.
    public init(ecall: FileDescriptor, platform: FileDescriptor) {
        ends = Mutex((ecall, platform))
    }

    /// Removes the ends; a second call fails.
    package func take() throws -> (ecall: FileDescriptor, platform: FileDescriptor) {
        let taken = ends.withLock { ends in
            defer { ends = nil }
            return ends
        }
        guard let taken else {
            throw LaunchError(.endpointsTaken, "the enclave's channel ends were already given to a process")
        }
        return taken
    }
}

/// The channels the platform creates for one enclave: host<->enclave ECALLs and platform<->enclave control.
public struct EnclaveChannelSet: Sendable {
    /// The host's end of the ECALL channel; the platform hands it to the host with `Channel.send(_:passing:)`.
    public let host: Channel
    /// The platform's end of its private channel to the enclave (keys travel only here).
    public let platform: Channel
    /// The enclave's ends, for `EnclaveProcess.spawn`.
    public let enclave: EnclaveEndpoints

    /// Two new socket pairs.
    public init(maximumFrameSize: Int = Channel.defaultMaximumFrameSize) throws {
        let (host, enclaveECALL) = try Channel.makePair(maximumFrameSize: maximumFrameSize)
        let (platform, enclavePlatform) = try Channel.makePair(maximumFrameSize: maximumFrameSize)
        self.host = host
        self.platform = platform
        self.enclave = EnclaveEndpoints(ecall: enclaveECALL.descriptor, platform: enclavePlatform.descriptor)
    }
}
