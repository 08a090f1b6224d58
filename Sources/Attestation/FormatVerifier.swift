public import FoundationEssentials

/// What a recogniser made of some bytes.
public enum EvidenceReading<Evidence: Sendable>: Sendable {
    /// The bytes are not this kind's: another recogniser may read them.
    case notThisFormat
    /// The bytes are this kind's (or share its framing) but do not decode; no other kind reads them.
    case malformed(AttestationError)
    /// The bytes decoded as `evidence`; `summary` says what was read (the `decode` check's detail).
    case read(Evidence, summary: String)
}

/// Evidence Cloister can tell by its bytes: the first duty of a format, and all that a format without a verifier yet
/// does, so that auto detection names it instead of failing to decode it as something else.
public protocol EvidenceRecogniser: Sendable {
    /// What the recogniser reads from bytes it recognises: the decoded, not yet verified, evidence.
    associatedtype Evidence: Sendable
    /// What people call the evidence, as errors list what was tried.
    var name: String { get }
    /// Reads `bytes` if they are this kind's; checks nothing cryptographic. Never traps on hostile bytes.
    func read(_ bytes: [UInt8], cache: EvidenceCache?) -> EvidenceReading<Evidence>
}

/// One evidence format, as a folder under `Formats/` provides it: it recognises and decodes its own bytes, then
/// checks signature, certificate chain and collateral under its trust anchors at an explicit time, into named checks
/// and typed claims. `EvidenceFormatRegistry` lists the formats; `EvidenceVerifier` runs them.
public protocol FormatVerifier: EvidenceRecogniser {
    /// The format's name and media type.
    var format: EvidenceFormat { get }
    /// Where a relying party obtains the format's trust anchors, said when none is configured.
    var trustAnchorAdvice: String { get }
    /// Every check of the format on `evidence` at `time` (the signature first, in the order run), and the claims.
    /// Policy decisions (reference values, debug, simulation, freshness) are not made here.
    func verify(_ evidence: Evidence, trust: TrustStore, cache: EvidenceCache?, at time: Date) -> FormatVerification
}

extension FormatVerifier {
    public var name: String { format.name }
}

/// What a format's verifier found.
public struct FormatVerification: Sendable {
    public var checks: [EvidenceCheck]
    /// The claims, even when a check failed (the result names what failed).
    public var claims: VerifiedClaims
    /// Things worth saying that do not fail a check; an appraisal with any is at best a warning.
    public var warnings: [String]

    public init(checks: [EvidenceCheck], claims: VerifiedClaims, warnings: [String] = []) {
        self.checks = checks
        self.claims = claims
        self.warnings = warnings
    }
}
