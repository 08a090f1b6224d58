internal import CEnclaveSandbox
import CloisterCBOR
public import CloisterCrypto
public import EnclaveProtocol
import Synchronization

/// The running enclave, as workload code sees it: its identity as the platform measured it, its sealed memory
/// regions, sealing, local reports, quotes and monotonic counters, and a key pair of its own that quotes bind.
///
/// `EnclaveMain.run` builds it after hardening the process and hands it to the workload's ECALL table. Keys and
/// quotes come from the platform over the enclave's private channel; nothing here can ask for another enclave's.
public final class Enclave: Sendable {
    /// The platform's record of this enclave.
    public let record: EnclaveRecord
    /// The manifest it was launched from.
    public let manifest: EnclaveManifest
    /// The sealed memory regions the manifest declares, within its resident budget.
    public let memory: EnclaveMemory
    /// Seals data to this enclave's identity (keys and counters from the platform).
    public let sealer: Sealer
    /// The trusted files, as the sealed copies the platform checked at launch.
    public let trustedFiles: TrustedFiles
    /// A P-256 key pair generated inside the enclave at start-up; `quote` binds its public key by default, so a
    /// verifier of the quote can encrypt to the enclave (HPKE) or check what it signs.
    public let key: ECPrivateKey
    private let platform: PlatformConnection

    init(
        record: EnclaveRecord, manifest: EnclaveManifest, memory: EnclaveMemory, trustedFiles: TrustedFiles,
        platform: PlatformConnection
    ) throws {
        self.record = record
        self.manifest = manifest
        self.memory = memory
        self.trustedFiles = trustedFiles
        self.platform = platform
        self.sealer = Sealer(
            identity: record.identity, tcbLevel: record.tcbLevel, keys: platform, counters: platform)
        self.key = try ECPrivateKey(generating: .p256)
    }

    /// The file at `path`: a trusted file's checked copy when `path` is where the platform copied one from, else the
    /// file as the enclave's confinement lets it open it.
    public func readFile(_ path: String) throws -> [UInt8] {
        try trustedFiles.contents(atPath: path) ?? AtomicFile(path: path).read()
    }

    /// The region called `name` in the manifest.
    public func region(named name: String) -> SealedRegion? { memory.region(named: name) }

    /// Seals `data` to this enclave (`.measurement`) or to its signer and product (`.signer`).
    public func seal(_ data: [UInt8], policy: SealPolicy = .measurement, counter: MonotonicCounter? = nil) throws
        -> [UInt8]
    {
        try sealer.seal(data, policy: policy, counter: counter)
    }

    /// Opens a blob sealed to this enclave, refusing one rolled back behind its counter.
    public func unseal(_ blob: [UInt8]) throws -> [UInt8] { try sealer.unseal(blob) }

    /// A local report for the enclave measured `target`, carrying 64 bytes of `data`.
    public func report(for target: EnclaveMeasurement, data: [UInt8]) throws -> [UInt8] {
        try platform.call(
            .report,
            CBORValue.map([CBORMapEntry("target", .bytes(target.bytes)), CBORMapEntry("report_data", .bytes(data))]))
    }

    /// Checks a report another enclave made for this one, and returns what it states.
    public func verifyReport(_ encoded: [UInt8]) throws -> EnclaveReport {
        var key = try platform.call(.reportKey, nil)
        defer { key.withUnsafeMutableBytes { cloister_secret_wipe($0.baseAddress, $0.count) } }
        let report = try EnclaveReport(encoded: encoded, reportKey: key)
        guard report.target == record.identity.measurement else {
            throw PlatformError(.reportRejected, "the report is targeted at another enclave")
        }
        return report
    }

    /// A quote (the Cloister attestation document, COSE_Sign1) for this enclave, binding `nonce`, `userData` and
    /// `publicKey` (by default this enclave's `key`, SubjectPublicKeyInfo DER).
    public func quote(nonce: [UInt8]?, userData: [UInt8]? = nil, publicKey: [UInt8]? = nil) throws -> [UInt8] {
        let binding = QuoteBinding(
            nonce: nonce, userData: userData, publicKey: publicKey ?? key.publicKey.derRepresentation)
        let report = try platform.call(
            .report,
            CBORValue.map([
                CBORMapEntry("target", .bytes(EnclaveReport.quotingTarget)),
                CBORMapEntry("report_data", .bytes(binding.reportData)),
            ]))
        return try platform.call(.quote, CBORValue.map([CBORMapEntry("report", .bytes(report))] + binding.cborEntries))
    }

    /// A new monotonic counter at 0, owned by this enclave's signer and product.
    public func createCounter() throws -> MonotonicCounter {
        try platform.counter(.counterCreate, nil)
    }

    /// The current value of counter `id`.
    public func counterValue(_ id: [UInt8]) throws -> UInt64 {
        try platform.currentValue(ofCounter: id)
    }

    /// Advances counter `id` by one and returns its new value (persisted before this returns).
    public func incrementCounter(_ id: [UInt8]) throws -> MonotonicCounter {
        try platform.counter(.counterIncrement, id)
    }

    /// Deletes counter `id` once the state it protects is finished with: nothing sealed against it opens again.
    public func deleteCounter(_ id: [UInt8]) throws {
        _ = try platform.call(.counterDelete, bytes: id)
    }
}

/// The enclave's end of its platform channel (fd 4): one call at a time, with CBOR arguments.
final class PlatformConnection: SealingKeyProvider, MonotonicCounterProvider {
    private let caller: Mutex<EnclaveCaller>
    private let channel: Channel

    init(channel: Channel) {
        self.channel = channel
        caller = Mutex(EnclaveCaller(channel: channel))
    }

    /// A start-up handshake call whose reply passes a descriptor (before any other call can run).
    func callReceivingDescriptor(
        _ function: PlatformFunction, _ argument: CBORValue
    ) throws -> ([UInt8], FileDescriptor) {
        try caller.withLock { _ in
            try channel.send(
                EnclaveCallMessage.ecall(id: 0, function: function.rawValue, argument: argument.encoded()).encoded())
            let (message, descriptor) = try channel.receiveWithOptionalDescriptor()
            switch (try EnclaveCallMessage(decoding: message), descriptor) {
            case (.ecallResult(0, .returned(let bytes)), let descriptor?):
                return (bytes, descriptor)
            case (.ecallResult(0, .failed(let code, let reason)), _):
                throw EnclaveCallError(
                    .handlerFailed, "the platform refused '\(function.rawValue)': \(code): \(reason)")
            case (let other, _):
                throw EnclaveCallError(.protocolViolation, "unexpected reply to '\(function.rawValue)': \(other)")
            }
        }
    }

    func call(_ function: PlatformFunction, _ argument: CBORValue?) throws -> [UInt8] {
        let bytes = try argument?.encoded() ?? []
        return try call(function, bytes: bytes)
    }

    func call(_ function: PlatformFunction, bytes: [UInt8]) throws -> [UInt8] {
        try caller.withLock { try $0.call(function.rawValue, bytes) }
    }

    func counter(_ function: PlatformFunction, _ id: [UInt8]?) throws -> MonotonicCounter {
        let reply = try CBORDecoder().decode(call(function, bytes: id ?? []))
        guard let id = reply["id"]?.bytesValue, let value = reply["value"]?.uint64Value else {
            throw PlatformError(.invalidRequest, "the platform's counter reply is malformed")
        }
        return MonotonicCounter(id: id, value: value)
    }

    func sealingKey(for request: KeyRequest) throws -> [UInt8] {
        try call(.sealKey, request.cborValue)
    }

    func currentValue(ofCounter id: [UInt8]) throws -> UInt64 {
        try counter(.counterRead, id).value
    }
}
