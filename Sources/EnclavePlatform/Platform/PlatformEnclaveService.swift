import CloisterCBOR
import CloisterCrypto
public import EnclaveProtocol
import Synchronization

/// The platform's answers to one launched enclave over its private channel (fd 4): the record of what the platform
/// measured, sealing and report keys derived for that identity only, local reports, quotes and monotonic counters.
///
/// Every answer is computed from the platform's record of the enclave, never from identity the enclave claims. The
/// only thing the enclave reports is which in-process hardening it applied (`hardened`), which the measured runtime
/// code does before it reads anything else; the record then lists it, and quotes carry it.
public final class PlatformEnclaveService: Sendable {
    /// The functions the enclave calls, with CBOR arguments and results.
    public typealias Function = PlatformFunction

    /// The functions answered only in the start-up handshake (by `LaunchedEnclave`).
    static let handshakeOnly: Set<Function> = [.hardened, .trustedFile]

    /// Mechanisms only the enclave itself can apply, and so may report.
    static let selfAppliedMechanisms: Set<IsolationMechanism> = [.notDumpable, .seccomp, .lockedRegions]

    private let platform: Platform
    private let state: Mutex<EnclaveRecord>

    public init(platform: Platform, record: EnclaveRecord) {
        self.platform = platform
        self.state = Mutex(record)
    }

    /// The record as it stands (mechanisms grow once the enclave reports its hardening).
    public var record: EnclaveRecord { state.withLock { $0 } }

    /// The call table served on the platform channel after the start-up handshake: `hardened` and `trusted-file`
    /// are accepted only during the handshake, so a workload cannot later claim hardening the runtime did not apply.
    public var calls: EnclaveCallTable {
        var table = EnclaveCallTable()
        for function in Function.allCases where !Self.handshakeOnly.contains(function) {
            table.register(function.rawValue) { [self] argument in try answer(function, argument) }
        }
        return table
    }

    func answer(_ function: Function, _ argument: [UInt8]) throws -> [UInt8] {
        let record = self.record
        switch function {
        case .identity:
            return try record.encoded()
        case .hardened:
            // The enclave also confirms the launcher's mechanisms; only the ones it applies itself are added.
            let names = try CBORDecoder().decode(argument).arrayValue?.compactMap(\.textValue) ?? []
            let reported = try names.map { name in
                guard let mechanism = IsolationMechanism(rawValue: name) else {
                    throw PlatformError(.invalidRequest, "'\(name)' is not an isolation mechanism")
                }
                return mechanism
            }
            state.withLock { $0.mechanisms.formUnion(Self.selfAppliedMechanisms.intersection(reported)) }
            return []
        case .trustedFile:
            throw PlatformError(.invalidRequest, "trusted files are handed over in the start-up handshake only")
        case .sealKey:
            let request = try KeyRequest(cbor: CBORDecoder().decode(argument))
            return try platform.keys.sealingKey(for: record.identity, request: request)
        case .reportKey:
            return try platform.reportKey(for: record)
        case .report:
            let value = try CBORDecoder().decode(argument)
            guard let target = value["target"]?.bytesValue, let data = value["report_data"]?.bytesValue else {
                throw PlatformError(.invalidRequest, "report request needs \"target\" and \"report_data\" bytes")
            }
            return try platform.report(for: record, target: target, reportData: data).encoded()
        case .quote:
            let value = try CBORDecoder().decode(argument)
            guard let report = value["report"]?.bytesValue else {
                throw PlatformError(.invalidRequest, "quote request needs the \"report\" bytes")
            }
            return try platform.quote(report: report, binding: QuoteBinding(value), evidence: record.evidence)
        case .counterCreate:
            return try Self.counterReply(platform.counters.create(owner: record.identity))
        case .counterRead:
            return try Self.counterReply(platform.counters.read(Self.counterID(argument), for: record.identity))
        case .counterIncrement:
            return try Self.counterReply(platform.counters.increment(Self.counterID(argument), for: record.identity))
        case .counterDelete:
            try platform.counters.delete(Self.counterID(argument), for: record.identity)
            return []
        }
    }

    static func counterReply(_ counter: MonotonicCounter) throws -> [UInt8] {
        try CBORValue.map([CBORMapEntry("id", .bytes(counter.id)), CBORMapEntry("value", .unsigned(counter.value))])
            .encoded()
    }

    private static func counterID(_ argument: [UInt8]) throws -> [UInt8] {
        guard argument.count == MonotonicCounter.idByteCount else {
            throw PlatformError(.invalidRequest, "a counter id is \(MonotonicCounter.idByteCount) bytes")
        }
        return argument
    }
}
