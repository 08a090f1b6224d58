/// The parsers of untrusted bytes, each driven with arbitrary input as a fuzzer drives it: `run` must return for
/// every input, refusing what does not decode with an error, and it traps (a finding) only when a property that must
/// hold does not: a decoded value that does not encode and decode back to itself, an evidence check that passes on
/// bytes that do not decode, a second verification that decides otherwise than the first.
///
/// The same targets run in `swift test` over the committed corpora and every input a campaign kept
/// (`Tests/FuzzRegressionTests`), and under libFuzzer with coverage and AddressSanitizer (`Fuzz/`, `make fuzz`).
public enum FuzzTarget: String, CaseIterable, Sendable {
    case cbor
    case coseSign1 = "cose-sign1"
    case attestationDocument = "attestation-document"
    case evidence
    case dcapQuote = "dcap-quote"
    case dcapCollateral = "dcap-collateral"
    case snpReport = "snp-report"
    case x509
    case manifestTOML = "manifest-toml"
    case signedManifest = "signed-manifest"
    case policy
    case csvDataset = "csv-dataset"
    case trainingSpec = "training-spec"
    case sealedBlob = "sealed-blob"
    case sealedPage = "sealed-page"
    case channelFrames = "channel-frames"
    case enclaveCall = "enclave-call"
    case federationUpdate = "federation-update"
    case signedStatement = "signed-statement"
    case verifierHTTP = "verifier-http"
    case federationHTTP = "federation-http"

    /// Whether the target's harness keeps state across inputs (the services' sessions, consumed nonces, audit rows
    /// and rounds), so that nearly every input leaves the heap larger: a leak check after each input would scan all
    /// of it, and `scripts/fuzz` looks for such a target's leaks once, at exit.
    public var keepsState: Bool {
        switch self {
        case .verifierHTTP, .federationHTTP: true
        case .cbor, .coseSign1, .attestationDocument, .evidence, .dcapQuote, .dcapCollateral, .snpReport, .x509,
            .manifestTOML, .signedManifest, .policy, .csvDataset, .trainingSpec, .sealedBlob, .sealedPage,
            .channelFrames, .enclaveCall, .federationUpdate, .signedStatement:
            false
        }
    }

    /// Whether replaying the target's committed corpus takes long: training-spec's specs calibrate noise (minutes in
    /// the unoptimised driver), and the services' harnesses run each input through a session.
    public var replaysSlowly: Bool {
        switch self {
        case .trainingSpec, .verifierHTTP, .federationHTTP: true
        case .cbor, .coseSign1, .attestationDocument, .evidence, .dcapQuote, .dcapCollateral, .snpReport, .x509,
            .manifestTOML, .signedManifest, .policy, .csvDataset, .sealedBlob, .sealedPage, .channelFrames,
            .enclaveCall, .federationUpdate, .signedStatement:
            false
        }
    }

    /// Every target in the order a campaign runs them: those slow to replay first, so that the cores running them
    /// finish together rather than one waiting on the last of them.
    public static var campaignOrder: [FuzzTarget] {
        allCases.filter(\.replaysSlowly) + allCases.filter { !$0.replaysSlowly }
    }

    /// Feeds `input` to the target's parser and checks its properties; traps with the property's name on a finding.
    public func run(_ input: [UInt8], context: FuzzContext) {
        switch self {
        case .cbor: CBORTargets.cbor(input)
        case .coseSign1: CBORTargets.coseSign1(input)
        case .attestationDocument: EvidenceTargets.attestationDocument(input)
        case .evidence: EvidenceTargets.evidence(input, context: context)
        case .dcapQuote: EvidenceTargets.dcapQuote(input, context: context)
        case .dcapCollateral: EvidenceTargets.dcapCollateral(input, context: context)
        case .snpReport: EvidenceTargets.snpReport(input, context: context)
        case .x509: EvidenceTargets.x509(input)
        case .manifestTOML: PlatformTargets.manifestTOML(input)
        case .signedManifest: PlatformTargets.signedManifest(input)
        case .policy: PlatformTargets.policy(input)
        case .csvDataset: LearningTargets.csvDataset(input)
        case .trainingSpec: LearningTargets.trainingSpec(input)
        case .sealedBlob: PlatformTargets.sealedBlob(input)
        case .sealedPage: PlatformTargets.sealedPage(input)
        case .channelFrames: PlatformTargets.channelFrames(input)
        case .enclaveCall: PlatformTargets.enclaveCall(input)
        case .federationUpdate: FederationTargets.update(input, context: context)
        case .signedStatement: FederationTargets.statement(input, context: context)
        case .verifierHTTP: ServiceTargets.verifier(input, context: context)
        case .federationHTTP: ServiceTargets.federation(input, context: context)
        }
    }
}

/// A property every input must keep; a violation is a finding, so it traps with the property named.
func require(_ holds: Bool, _ property: @autoclosure () -> String) {
    if !holds { fatalError("fuzz property violated: \(property())") }
}
