public import EnclaveProtocol

/// The platform's sealing and counter service for one launched enclave: it answers key and counter requests with
/// the identity the platform measured, never one the enclave claims. The platform's channel handler forwards to it;
/// in-process users (tests, tools) can hand it to a `Sealer` directly.
public struct PlatformSealingService: SealingKeyProvider, MonotonicCounterProvider {
    /// The enclave this service answers for.
    public let identity: EnclaveIdentity
    private let deriver: PlatformKeyDeriver
    private let counters: MonotonicCounterStore?

    public init(identity: EnclaveIdentity, deriver: PlatformKeyDeriver, counters: MonotonicCounterStore? = nil) {
        self.identity = identity
        self.deriver = deriver
        self.counters = counters
    }

    public func sealingKey(for request: KeyRequest) throws -> [UInt8] {
        try deriver.sealingKey(for: identity, request: request)
    }

    public func currentValue(ofCounter id: [UInt8]) throws -> UInt64 {
        guard let counters else {
            throw SealingError(.counterUnavailable, "this platform service has no monotonic counter store")
        }
        return try counters.read(id, for: identity).value
    }
}
