/// The aspects of an AR4SI trustworthiness vector (draft-ietf-rats-ar4si) that appraisal checks speak for.
public enum TrustworthinessAspect: Sendable, Hashable, CaseIterable {
    case instanceIdentity, configuration, executables, hardware, runtimeOpaque
}

/// The name of an appraisal check as results carry it, typed: the aspect of the trustworthiness vector its outcome
/// decides, and whether its failure means the cryptography did not hold. Every check is declared once as a static
/// member beside the code that runs it (the evidence formats' in their folders, the policy's in `Verifier`), so a
/// check cannot be named without its aspect.
public struct CheckName: Sendable, Hashable, CustomStringConvertible {
    /// The name on the wire (`checks[].name`, `cloister.failed-checks`).
    public let rawValue: String
    /// The aspect its outcome decides.
    public let aspect: TrustworthinessAspect
    /// Whether a failure means the evidence's cryptography did not hold (AR4SI tier 99 rather than 96).
    public let isCryptographic: Bool

    public init(_ rawValue: String, aspect: TrustworthinessAspect, isCryptographic: Bool = false) {
        self.rawValue = rawValue
        self.aspect = aspect
        self.isCryptographic = isCryptographic
    }

    public var description: String { rawValue }
}

extension CheckName {
    /// The bytes are read as one of the formats the registry lists.
    public static let decode = CheckName("decode", aspect: .instanceIdentity, isCryptographic: true)
    /// The evidence is in the format the caller asked for.
    public static let format = CheckName("format", aspect: .instanceIdentity)
    /// The evidence's signature verifies with the key that should have made it.
    public static let signature = CheckName("signature", aspect: .instanceIdentity, isCryptographic: true)
    /// A root is configured for the format.
    public static let trustAnchor = CheckName("trust-anchor", aspect: .instanceIdentity, isCryptographic: true)
    /// The signing certificate chains to a pinned root at the appraisal's time.
    public static let certificateChain = CheckName(
        "certificate-chain", aspect: .instanceIdentity, isCryptographic: true)
}
