import CloisterCrypto
public import FoundationEssentials

/// The evidence stage of an appraisal: tell the format, then run its verifier, every check reported by name.
///
/// The format asked for is tried first, then every format of the registry in order: the first whose reading accepts
/// the bytes verifies them. `decode` reports the reading; `format` (when one was asked for) whether the evidence is
/// that format; the format's verifier adds its own checks (`signature`, `trust-anchor` or `certificate-chain`, and
/// what the format checks beyond them). Bytes no format reads are refused: bytes a format recognises but cannot
/// decode as `malformed-evidence`, recognised evidence without a verifier yet (an AMD SEV-SNP
/// report, well formed or not) as `unsupported-evidence-format`, anything else as `unknown-evidence-format` naming
/// every format tried.
///
/// Policy decisions (reference values, debug, simulation, freshness) belong to the verifier, not here. The verifier
/// never reads the clock.
public struct EvidenceVerifier: Sendable {
    public let trust: TrustStore
    /// Parsed certificates, verified chains and TCB-status lists from earlier appraisals, if kept.
    public let cache: EvidenceCache?
    /// The formats read.
    public let registry: EvidenceFormatRegistry

    public init(trust: TrustStore, cache: EvidenceCache? = nil, registry: EvidenceFormatRegistry = .standard) {
        self.trust = trust
        self.cache = cache
        self.registry = registry
    }

    /// The outcome of the evidence stage.
    public struct Outcome: Sendable {
        /// The format the evidence was read as (the one asked for when it could not be read).
        public let format: EvidenceFormat?
        /// The claims, when the evidence decoded (even if a check failed: the result names what failed).
        public let claims: VerifiedClaims?
        public let checks: [EvidenceCheck]
        /// Things worth saying that do not fail a check (a Nitro root that is not AWS's); an appraisal with any is at
        /// best a warning.
        public let warnings: [String]
        /// Why the evidence could not be read at all (its `decode` check failed), with a stable code:
        /// `malformed-evidence`, `unknown-evidence-format` or `unsupported-evidence-format`.
        public let refusal: AttestationError?

        /// Whether every check passed.
        public var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }
    }

    /// Verifies `evidence` at `time`; `format` nil detects it. Bound evidence (`BoundEvidence`) is unwrapped: its
    /// evidence is verified, then `report-data` checks that the report data binds the values sent beside it, which
    /// the claims then state.
    public func verify(_ evidence: [UInt8], format requested: EvidenceFormat? = nil, at time: Date) -> Outcome {
        let bound: BoundEvidence?
        do {
            bound = try BoundEvidence.read(evidence)
        } catch {
            return Outcome(
                format: requested, claims: nil, checks: [EvidenceCheck(.decode, passed: false, error.reason)],
                warnings: [], refusal: error)
        }
        guard let bound else { return verifyUnbound(evidence, format: requested, at: time) }
        let outcome = verifyUnbound(bound.evidence, format: requested, at: time)
        guard let claims = outcome.claims else { return outcome }
        let check: EvidenceCheck
        if claims.nonce != nil || claims.userData != nil || claims.publicKey != nil || claims.reportData == nil {
            check = EvidenceCheck(
                .reportData, passed: false,
                "\(claims.format.rawValue) evidence states its own nonce, user data and public key; only evidence "
                    + "with report data comes bound")
        } else {
            let expected = hexEncoded(bound.reportData)
            check = EvidenceCheck(
                .reportData, passed: claims.reportData == expected,
                claims.reportData == expected
                    ? "the report data binds the nonce, user data and public key sent with the evidence"
                    : "the report data does not bind the nonce, user data and public key sent with the evidence "
                        + "(Cloister's binding would be \(expected))")
        }
        return Outcome(
            format: outcome.format, claims: check.passed ? claims.binding(bound) : claims,
            checks: outcome.checks + [check], warnings: outcome.warnings, refusal: nil)
    }

    private func verifyUnbound(_ evidence: [UInt8], format requested: EvidenceFormat?, at time: Date) -> Outcome {
        switch read(evidence, requested: requested) {
        case .failure(let error):
            return Outcome(
                format: requested, claims: nil, checks: [EvidenceCheck(.decode, passed: false, error.reason)],
                warnings: [], refusal: error)
        case .success(let read):
            var checks = [EvidenceCheck(.decode, passed: true, read.summary)]
            if let requested {
                checks.append(
                    EvidenceCheck(
                        .format, passed: requested == read.format,
                        requested == read.format
                            ? "\(read.format.rawValue) evidence"
                            : "the evidence is \(read.format.rawValue), not \(requested.rawValue)"))
            }
            let verification = read.verify(time)
            return Outcome(
                format: read.format, claims: verification.claims, checks: checks + verification.checks,
                warnings: verification.warnings, refusal: nil)
        }
    }

    /// The format of `evidence` (`format` first, if given), without verifying it: what can be refused before a
    /// nonce is spent. Throws `AttestationError` (`malformed-evidence`, `unknown-evidence-format`,
    /// `unsupported-evidence-format`) naming what is wrong.
    public func format(of evidence: [UInt8], requested: EvidenceFormat? = nil) throws(AttestationError)
        -> EvidenceFormat
    {
        try read(BoundEvidence.read(evidence)?.evidence ?? evidence, requested: requested).get().format
    }

    /// Evidence read by a format: its format, what was read, and the format's verification of it at a time.
    private struct Reading {
        let format: EvidenceFormat
        let summary: String
        let verify: (Date) -> FormatVerification
    }

    private enum Attempt {
        case notThisFormat
        case refused(AttestationError)
        case read(Reading)
    }

    private func read(_ bytes: [UInt8], requested: EvidenceFormat?) -> Result<Reading, AttestationError> {
        if let requested, let verifier = registry.verifier(for: requested) {
            switch attempt(verifier, bytes) {
            case .read(let reading): return .success(reading)
            case .refused(let error): return .failure(error)
            case .notThisFormat: break
            }
        }
        for verifier in registry.verifiers where verifier.format != requested {
            switch attempt(verifier, bytes) {
            case .read(let reading): return .success(reading)
            case .refused(let error): return .failure(error)
            case .notThisFormat: continue
            }
        }
        for recogniser in registry.awaitingVerifiers {
            if let refusal = refusal(by: recogniser, bytes) { return .failure(refusal) }
        }
        let start = bytes.isEmpty ? "" : ", starting \(hexEncoded(Array(bytes.prefix(8))))"
        return .failure(
            AttestationError(
                .unknownFormat,
                "the evidence (\(bytes.count) bytes\(start)) is in no format Cloister reads; tried: "
                    + registry.verifiers.map(\.name).joined(separator: "; ")
                    + registry.awaitingVerifiers.map { "; \($0.name)" }.joined()))
    }

    private func attempt<Verifier: FormatVerifier>(_ verifier: Verifier, _ bytes: [UInt8]) -> Attempt {
        switch verifier.read(bytes, cache: cache) {
        case .notThisFormat:
            return .notThisFormat
        case .malformed(let error):
            return .refused(error)
        case .read(let evidence, let summary):
            return .read(
                Reading(format: verifier.format, summary: summary) { time in
                    verifier.verify(evidence, trust: trust, cache: cache, at: time)
                })
        }
    }

    /// Why `bytes` are refused when `recogniser` knows them (a kind without a verifier yet), or nil.
    private func refusal<Recogniser: EvidenceRecogniser>(
        by recogniser: Recogniser, _ bytes: [UInt8]
    ) -> AttestationError? {
        let verifiable = {
            "it verifies " + registry.formats.map { "\($0.rawValue) (\($0.name))" }.joined(separator: ", ")
        }
        switch recogniser.read(bytes, cache: cache) {
        case .notThisFormat:
            return nil
        case .malformed(let error):
            return AttestationError(
                .unsupportedFormat, "\(error.reason); Cloister cannot verify such evidence yet; \(verifiable())")
        case .read(_, let summary):
            return AttestationError(
                .unsupportedFormat,
                "the evidence is \(summary): Cloister recognises it but cannot verify it yet; \(verifiable())")
        }
    }
}
