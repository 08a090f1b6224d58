public import Attestation
import CloisterCrypto
public import FoundationEssentials
import HTTPService
import Prometheus
import Synchronization
public import VendorCollateral
public import Verifier

/// The service's core, independent of HTTP: sessions with single-use nonces, appraisal under stored policies and
/// reference values, the audit log, and metrics.
public final class AttestationService: Sendable {
    public let store: any VerifierStore
    public let trust: TrustStore
    /// Where DCAP collateral the configured trust lacks is fetched from, if anywhere (`cloister serve --pccs`).
    public let collateralCache: PCSCollateralCache?
    /// Where an AMD SEV-SNP report's VCEK, ASK and CRL the configured trust lacks are fetched from, if anywhere
    /// (`cloister serve --kds`).
    public let endorsementCache: AMDKDSCache?
    public let signer: ResultSigner
    /// How long a session's nonce stays usable.
    public let sessionLifetime: TimeInterval
    /// How many sessions may be outstanding (issued, not yet used, not expired) at once, across every replica
    /// sharing the store; past it `newSession` is refused with 503 until one is used or expires.
    public let maximumOutstandingSessions: Int
    /// The policy applied when a request names none and the store holds no policy "default".
    public let fallbackPolicy: Policy
    public let metrics: ServiceMetrics
    /// The configured DCAP collateral as read, for telling which quotes it covers; items that do not read cover none
    /// (their appraisal says why).
    private let configuredDCAPCollateral: [PCSCollateral]
    /// Parsed certificates, verified chains and TCB-status lists shared by every appraisal.
    private let cache = EvidenceCache()
    /// Effective policies by id, each kept for `policyCacheLifetime`: provisioning changes reach every replica
    /// within that time, and appraisals do not read and decode the policy from the store each time.
    private let policies = Mutex<[String: (policy: Policy, loaded: ContinuousClock.Instant)]>([:])
    public static let policyCacheLifetime: Duration = .seconds(1)

    public static let nonceByteCount = 32
    /// The default `sessionLifetime`, in seconds.
    public static let defaultSessionLifetime = 300
    /// The default `maximumOutstandingSessions`.
    public static let defaultMaximumOutstandingSessions = 10_000

    public init(
        store: any VerifierStore, trust: TrustStore, collateralCache: PCSCollateralCache? = nil,
        endorsementCache: AMDKDSCache? = nil, signer: ResultSigner,
        sessionLifetime: TimeInterval = TimeInterval(defaultSessionLifetime),
        maximumOutstandingSessions: Int = defaultMaximumOutstandingSessions,
        fallbackPolicy: Policy = Policy(id: "default"), metrics: ServiceMetrics = ServiceMetrics()
    ) {
        self.store = store
        self.trust = trust
        self.collateralCache = collateralCache
        self.endorsementCache = endorsementCache
        configuredDCAPCollateral = (trust[.sgx].collateral + trust[.tdx].collateral).enumerated().compactMap {
            try? PCSCollateral(json: $0.element, source: "item \($0.offset + 1)")
        }
        self.signer = signer
        self.sessionLifetime = sessionLifetime
        self.maximumOutstandingSessions = maximumOutstandingSessions
        self.fallbackPolicy = fallbackPolicy
        self.metrics = metrics
    }

    /// Issues a session with a fresh random nonce; refused with `too-many-sessions` (503, with when to retry) while
    /// `maximumOutstandingSessions` are outstanding.
    public func newSession(at time: Date = Date()) async throws -> ChallengeSession {
        let id = UUIDString.random()
        let nonce = try SecureRandom.bytes(count: Self.nonceByteCount)
        let expiresAt = time + sessionLifetime
        let admission = try await store.createSession(
            id: id, nonce: nonce, expiresAt: expiresAt, outstandingLimit: maximumOutstandingSessions, at: time)
        if case .full(let nextExpiry) = admission {
            metrics.recordRefusedSession()
            throw ServiceError.tooManySessions(
                limit: maximumOutstandingSessions, retryAfter: nextExpiry.timeIntervalSince(time))
        }
        return ChallengeSession(id: id, nonce: nonce, expiresAt: expiresAt, state: .waiting, result: nil)
    }

    /// Consumes session `id`'s nonce and appraises `evidence` bound to it. Everything that can be refused without
    /// the nonce (evidence that does not read as a format the service verifies, an unknown policy, collateral the
    /// PCCS does not give) is refused first, leaving the session waiting.
    public func completeSession(
        id: String, evidence: [UInt8], format: EvidenceFormat?, policyID: String?, at time: Date = Date()
    ) async throws -> Result<(ChallengeSession, AttestationResult), SessionRefusal> {
        try checkReadable(evidence, format: format)
        let policy = try await effectivePolicy(policyID)
        let trust = try await appraisalTrust(for: evidence, format: format, at: time)
        switch try await store.consumeSession(id: id, at: time) {
        case .failure(let refusal):
            return .failure(refusal)
        case .success(var session):
            let result = try await appraise(
                evidence, format: format, policy: policy, trust: trust, expectedNonce: session.nonce, at: time)
            try await store.completeSession(id: id, result: result.token ?? "")
            session.state = .complete
            session.result = result.token
            return .success((session, result))
        }
    }

    /// Checks that `evidence` reads as a format the service verifies (decoded through the shared cache, nothing
    /// verified), before a session's nonce is spent on it; throws the refusal as a 422 with its code otherwise.
    private func checkReadable(_ evidence: [UInt8], format: EvidenceFormat?) throws {
        do {
            _ = try EvidenceVerifier(trust: trust, cache: cache).format(of: evidence, requested: format)
        } catch {
            throw ServiceError.unreadableEvidence(error)
        }
    }

    /// Appraises `evidence` under the policy `policyID` (or the default), records it in the audit log and metrics.
    /// Evidence that does not read as a format the service verifies is refused (422 `malformed-evidence`,
    /// `unknown-evidence-format` or `unsupported-evidence-format`) and not logged; so is a DCAP quote whose
    /// collateral the PCCS does not give (502 `collateral-unavailable`).
    public func appraise(
        _ evidence: [UInt8], format: EvidenceFormat?, policyID: String?, expectedNonce: [UInt8]?,
        at time: Date = Date()
    ) async throws -> AttestationResult {
        let policy = try await effectivePolicy(policyID)
        return try await appraise(
            evidence, format: format, policy: policy, trust: appraisalTrust(for: evidence, format: format, at: time),
            expectedNonce: expectedNonce, at: time)
    }

    /// The trust to appraise `evidence` at `time` with: the configured trust, and for an Intel DCAP quote whose TEE
    /// and FMSPC no configured collateral covers at `time`, the collateral from the PCCS first (cached until its next
    /// update); for an AMD SEV-SNP report, what the KDS publishes that the configured trust lacks
    /// (`AMDKDSCache.endorsement`). The appraisal itself is synchronous and never reaches the network: any fetch
    /// happens here, before it. Evidence that is neither, or that does not say which collateral it needs, takes the
    /// configured trust, and its appraisal says what is wrong.
    private func appraisalTrust(for evidence: [UInt8], format: EvidenceFormat?, at time: Date) async throws
        -> TrustStore
    {
        if let endorsementCache, format == nil || format == .snp,
            case .read(let snp, _) = SEVSNPReportVerifier().read(evidence, cache: cache)
        {
            return try await endorsedTrust(snp, from: endorsementCache, at: time)
        }
        guard let collateralCache, format == nil || format == .sgx || format == .tdx,
            let quote = try? IntelDCAPQuote(evidence), let key = try? PCSCollateralKey(quote: quote)
        else { return trust }
        let covered = configuredDCAPCollateral.contains {
            $0.key.tee == key.tee && $0.key.fmspc == key.fmspc && $0.isCurrent(at: time)
        }
        guard !covered else { return trust }
        let fetched: PCSCollateral
        do {
            fetched = try await collateralCache.collateral(for: key, at: time)
        } catch {
            throw ServiceError.collateralUnavailable(error)
        }
        var extended = trust
        extended[key.tee == .sgx ? .sgx : .tdx].collateral.insert(fetched.json, at: 0)
        return extended
    }

    /// The configured trust with what the KDS publishes for `evidence` added. A version 2 report states no product
    /// line: it is the line of the configured ARK when exactly one of AMD's is configured. A report whose VCEK
    /// cannot be named (masked chip ID, a VLEK, an unknown line) takes the configured trust.
    private func endorsedTrust(_ evidence: SEVSNPEvidence, from cache: AMDKDSCache, at time: Date) async throws
        -> TrustStore
    {
        let pinned = Set(
            trust[.snp].roots.compactMap { root in
                TrustStore.amdARKFingerprints.first { $0.value == hexEncoded(root.sha256Fingerprint) }?.key
            })
        let product =
            evidence.report.cpuid == nil && pinned.count == 1 ? pinned.first.flatMap(AMDProductLine.init) : nil
        var extended = trust
        do {
            extended[.snp] = try await cache.endorsement(
                for: evidence, product: product, adding: trust[.snp], at: time
            ).trust
        } catch  where error.code == .unsupportedReport {
            return trust
        } catch {
            throw ServiceError.collateralUnavailable(error)
        }
        return extended
    }

    private func appraise(
        _ evidence: [UInt8], format: EvidenceFormat?, policy: Policy, trust: TrustStore, expectedNonce: [UInt8]?,
        at time: Date
    ) async throws -> AttestationResult {
        let started = ContinuousClock.now
        let appraiser = Appraiser(evidence: EvidenceVerifier(trust: trust, cache: cache), signer: signer)
        let evaluated = appraiser.evaluate(
            evidence, format: format, policy: policy, expectedNonce: expectedNonce, at: time)
        if let refusal = evaluated.refusal {
            throw ServiceError.unreadableEvidence(refusal)
        }
        let result = try appraiser.sign(evaluated, policy: policy, expectedNonce: expectedNonce, at: time)
        try await store.appendAudit(
            AuditEntry(
                time: time, evidenceHash: hexEncoded(DigestAlgorithm.sha256.hash(evidence)),
                format: result.format?.rawValue ?? "unknown", status: result.status.rawValue, policyID: policy.id))
        metrics.recordAppraisal(status: result.status, duration: ContinuousClock.now - started)
        return result
    }

    /// The named policy with every provisioned reference value added; nil `id` means "default". Cached for
    /// `policyCacheLifetime`.
    func effectivePolicy(_ id: String?) async throws -> Policy {
        let key = id ?? ""
        let now = ContinuousClock.now
        if let cached = policies.withLock({ $0[key] }), now - cached.loaded < Self.policyCacheLifetime {
            return cached.policy
        }
        let policy = try await loadPolicy(id)
        policies.withLock { $0[key] = (policy, now) }
        return policy
    }

    /// Forgets cached policies: provisioning through this replica is visible to its next appraisal.
    func invalidatePolicies() {
        policies.withLock { $0.removeAll() }
    }

    private func loadPolicy(_ id: String?) async throws -> Policy {
        var policy: Policy
        if let id {
            guard let stored = try await store.policy(id: id) else { throw ServiceError.unknownPolicy(id) }
            policy = stored
        } else {
            policy = try await store.policy(id: "default") ?? fallbackPolicy
        }
        for set in try await store.referenceValues() {
            policy.measurements += set.measurements.filter { !policy.measurements.contains($0) }
            policy.signers += set.signers.filter { !policy.signers.contains($0) }
        }
        return policy
    }
}

/// Random session ids (RFC 4122 version 4 UUIDs from OpenSSL's generator).
enum UUIDString {
    static func random() -> String {
        var bytes = (try? SecureRandom.bytes(count: 16)) ?? [UInt8](repeating: 0, count: 16)
        bytes[6] = bytes[6] & 0x0f | 0x40
        bytes[8] = bytes[8] & 0x3f | 0x80
        let hex = hexEncoded(bytes)
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex.dropFirst(range.lowerBound).prefix(range.count))
        }
        return parts.joined(separator: "-")
    }
}

/// Appraisal counters by status and a latency histogram, exported in the Prometheus text format.
public final class ServiceMetrics: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let counters: [AppraisalStatus: Counter]
    private let latency: DurationHistogram
    private let refusedSessions: Counter
    private let collectedSessions: Counter

    public init() {
        let registry = PrometheusCollectorRegistry()
        let appraisals = MetricNameDescriptor(
            namespace: "cloister", metricName: "appraisals", unitName: "total", helpText: "Appraisals by result status")
        counters = Dictionary(
            uniqueKeysWithValues: [AppraisalStatus.affirming, .warning, .contraindicated].map { status in
                (status, registry.makeCounter(descriptor: appraisals, labels: [("status", status.rawValue)]))
            })
        latency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "cloister", metricName: "appraisal_duration", unitName: "seconds",
                helpText: "Time to appraise one piece of evidence, audit log included"),
            buckets: [
                .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                .milliseconds(10), .milliseconds(20), .milliseconds(50), .milliseconds(100), .milliseconds(500),
            ])
        refusedSessions = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "cloister", metricName: "sessions_refused", unitName: "total",
                helpText: "newSession requests refused because the outstanding sessions reached their bound"))
        collectedSessions = registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "cloister", metricName: "sessions_collected", unitName: "total",
                helpText: "Expired sessions deleted by this replica"))
        self.registry = registry
    }

    func recordAppraisal(status: AppraisalStatus, duration: Duration) {
        counters[status]?.increment()
        latency.record(duration)
    }

    func recordRefusedSession() {
        refusedSessions.increment()
    }

    func recordCollectedSessions(_ count: Int) {
        collectedSessions.increment(by: Int64(count))
    }

    /// The Prometheus text exposition.
    public var exposition: [UInt8] { registry.emitToBuffer() }
}
