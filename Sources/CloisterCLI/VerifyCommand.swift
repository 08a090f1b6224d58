public import ArgumentParser
import Attestation
import CloisterCrypto
import EnclavePlatform
import Foundation
import VendorCollateral
import Verifier

/// `cloister verify EVIDENCE`: appraise a Cloister quote, an AWS Nitro attestation document, an Intel SGX or TDX DCAP
/// quote or an AMD SEV-SNP report under a policy.
public struct VerifyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract:
            "Appraise a Cloister quote, AWS Nitro document, Intel SGX/TDX DCAP quote or AMD SEV-SNP report under a "
            + "policy; print every check and the EAR.",
        discussion: """
            Without --trust-anchor, evidence is checked against the simulated platform in --home (else \
            $CLOISTER_HOME, else ~/.cloister): its published root, CRLs and TCB-status list for Cloister quotes, its \
            simulated vendors' roots and collateral for the SGX, TDX, SEV-SNP and Nitro evidence it makes (no \
            secret is read; the evidence is simulated and a policy must allow it). Otherwise AWS \
            Nitro documents need AWS's root G1 with --trust-anchor (\(TrustStore.awsNitroRootURL)); under a root \
            whose SHA-256 differs from \(TrustStore.awsNitroRootG1Fingerprint) the result is at best a warning. \
            Intel SGX and TDX DCAP quotes (versions 3 to 5) need Intel's SGX Root CA with --trust-anchor \
            (\(TrustStore.intelSGXRootCAURL), SHA-256 \(TrustStore.intelSGXRootCAFingerprint)) and their collateral \
            with --collateral (a JSON file with the QuoteCollateralV3 fields dcap-qvl and Intel's PCCS use) or from \
            --pccs (Intel's PCS, https://api.trustedservices.intel.com, or a PCCS: fetched as dcap-qvl fetches it, \
            cached in --pccs-cache and fetched again once the appraisal time reaches an item's next update); a DCAP \
            quote states no time, so bind a nonce into its report data (policy report_data_binding). AMD SEV-SNP \
            reports need their product line's AMD certificate chain (ASK, ARK, ASVK) with --trust-anchor \
            (\(TrustStore.amdKDSURL)/vcek/v1/Milan/cert_chain, likewise Genoa and Turin) and the VCEK with --vcek \
            unless the evidence is an extended report carrying it, or from --kds (AMD's KDS, \
            \(TrustStore.amdKDSURL): the VCEK of a Milan or Genoa report, and its product line's CRL, fetched as \
            go-sev-guest fetches them and cached in --kds-cache; the KDS answers about one request per 10 s, so \
            nothing cached is asked for again, and HTTP 429 is retried twice at most; the fetched ARK is never \
            trusted, --trust-anchor still pins it). Evidence that \
            reaches a Cloister platform is simulated whatever it claims. Without --policy the default \
            policy trusts no measurement, so evidence is contraindicated: write a policy (README); a policy without \
            max_age_seconds accepts evidence at most \(Policy.defaultMaximumAgeSeconds) s old. The result is an EAR \
            (JWT, ES256) signed with --signing-key, or with a fresh key whose JWK set --json prints. Exit status: 0 \
            affirming or warning, 2 contraindicated, 64 usage error (a bad option, or a policy that does not parse), \
            65 evidence in no format Cloister verifies (unknown-evidence-format, naming every format tried, or a DCAP \
            quote or SEV-SNP report that does not say which collateral to fetch), 69 the PCCS or KDS unreachable or \
            answering with an error or with something that is not the collateral, 73 the --pccs-cache or \
            --kds-cache directory not writable, 78 no Cloister \
            platform in the home (and no --trust-anchor), 1 internal error.
            """
    )

    @Argument(help: "The evidence file: a quote from `cloister run --quote-out`, or a Nitro document (CBOR).")
    var evidence: String

    @Option(help: "The evidence format, or auto to detect it from the bytes.")
    var format: FormatChoice = .auto

    @Option(help: "The policy (TOML or JSON).")
    var policy: String?

    @Option(name: .customLong("trust-anchor"), help: "A root certificate (PEM) to trust; repeatable.")
    var trustAnchors: [String] = []

    @Option(name: .customLong("crl"), help: "CRLs (PEM) of the --trust-anchor's CAs; repeatable.")
    var crls: [String] = []

    @Option(
        name: .customLong("collateral"),
        help: "Intel DCAP collateral (QuoteCollateralV3 JSON) for SGX and TDX quotes; repeatable, one per platform.")
    var collateral: [String] = []

    @Option(
        name: .customLong("vcek"),
        help: "An AMD VCEK or VLEK certificate (DER or PEM) for SEV-SNP reports that do not carry theirs; repeatable.")
    var endorsementKeys: [String] = []

    @OptionGroup var pccsOptions: PCCSOptions

    @OptionGroup var kdsOptions: KDSOptions

    @Option(
        name: .customLong("product"),
        help: "The SEV-SNP report's product line for --kds (Milan or Genoa); version 3 reports state it themselves.")
    var product: String?

    @Option(help: "The Cloister platform home whose published trust material to use.")
    var home: String?

    @Option(help: "The hex nonce the relying party issued; the evidence must carry it.")
    var nonce: String?

    @Option(help: "Appraise at this time (RFC 3339, e.g. 2022-10-13T10:00:00Z) instead of now.")
    var at: String?

    @Option(help: "The verifier's P-256 key (PEM) that signs the EAR.")
    var signingKey: String?

    @Flag(help: "Print the result (status, checks, claims, EAR, JWK set) as JSON.")
    var json = false

    public init() {}

    /// `auto`, or the name of a format of the registry.
    struct FormatChoice: ExpressibleByArgument {
        /// Nil for auto.
        let format: EvidenceFormat?

        static let auto = FormatChoice(format: nil)

        init(format: EvidenceFormat?) {
            self.format = format
        }

        init?(argument: String) {
            if argument == "auto" {
                format = nil
            } else if let format = EvidenceFormatRegistry.standard.format(named: argument) {
                self.format = format
            } else {
                return nil
            }
        }

        static var allValueStrings: [String] { ["auto"] + EvidenceFormat.allCases.map(\.rawValue) }

        var defaultValueDescription: String { format?.rawValue ?? "auto" }
    }

    public func validate() throws {
        if let nonce, hexDecoded(nonce) == nil { throw ValidationError("--nonce must be an even number of hex digits") }
        if let at, Self.date(at) == nil {
            throw ValidationError("--at must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z")
        }
        if pccsOptions.pccs != nil, !collateral.isEmpty {
            throw ValidationError("--pccs and --collateral exclude each other: collateral given is never fetched")
        }
        if let product {
            guard kdsOptions.kds != nil else { throw ValidationError("--product needs --kds") }
            guard AMDProductLine(rawValue: product) != nil else {
                throw ValidationError("--product must be Milan or Genoa, the product lines whose VCEKs are fetched")
            }
        }
    }

    public func run() async throws {
        let bytes = try CommandInput.bytes(evidence, "the evidence file")
        let format = try evidenceFormat(bytes)
        let policy =
            try policy.map { path in
                do { return try Policy(contentsOfFile: path) } catch { throw ValidationError("\(error)") }
            } ?? Policy(id: "default")
        let time = at.flatMap(Self.date) ?? Date()
        var trust = try trustStore(for: format)
        if let format, let fetched = try await fetchedCollateral(bytes, format: format, at: time) {
            trust[format].collateral = [fetched]
        }
        if let format { try await addFetchedEndorsement(bytes, format: format, at: time, to: &trust) }
        let signer = try resultSigner()
        let result = try reportingErrors {
            try Appraiser(evidence: EvidenceVerifier(trust: trust), signer: signer).appraise(
                bytes, format: self.format.format, policy: policy, expectedNonce: nonce.flatMap(hexDecoded), at: time)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            var object = try JSONSerialization.jsonObject(with: encoder.encode(result)) as? [String: Any] ?? [:]
            object["jwks"] = try JSONSerialization.jsonObject(with: Data(signer.jwks))
            let data = try JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            print(String(decoding: data, as: UTF8.self))
        } else {
            for check in result.checks {
                print("\(check.passed ? "pass" : "FAIL")  \(check.name): \(check.detail)")
            }
            for warning in result.warnings { print("warning: \(warning)") }
            if let claims = result.claims {
                print("measurement \(claims.measurement)")
                if claims.simulated { print("note: simulated evidence (no TEE hardware)") }
            }
            print("\(result.status.rawValue) (policy \(result.policyID))")
        }
        if result.status == .contraindicated { throw ExitCode(2) }
    }

    /// The format asked for, else the one the evidence is read as (nil when a format recognises it but it does not
    /// decode: the appraisal's `decode` check says why). Evidence in no format Cloister verifies exits 65, naming
    /// its code and what it is.
    private func evidenceFormat(_ bytes: [UInt8]) throws -> EvidenceFormat? {
        do throws(AttestationError) {
            let read = try EvidenceVerifier(trust: TrustStore()).format(of: bytes, requested: format.format)
            return format.format ?? read
        } catch  where error.code == .malformedEvidence {
            return format.format
        } catch {
            printToStandardError("error: \(evidence): \(error.code): \(error.reason)")
            throw ExitCode(65)
        }
    }

    /// With --pccs, the collateral of the DCAP quote `bytes` (read as `format`) for an appraisal at `time`, from the
    /// cache or fetched; nil without --pccs, or when the quote does not decode (the appraisal says why). Other formats
    /// take no collateral from a PCCS: a usage error.
    private func fetchedCollateral(_ bytes: [UInt8], format: EvidenceFormat, at time: Date) async throws -> [UInt8]? {
        guard pccsOptions.pccs != nil else { return nil }
        guard format == .sgx || format == .tdx else {
            throw ValidationError(
                "--pccs fetches collateral for Intel SGX and TDX DCAP quotes; \(evidence) is \(format.name)")
        }
        guard let quote = try? IntelDCAPQuote(bytes), let cache = try pccsOptions.cache() else { return nil }
        return try await reportingErrors { () async throws -> [UInt8] in
            try await cache.collateral(for: PCSCollateralKey(quote: quote), at: time).json
        }
    }

    /// With --kds, adds to `trust` what AMD's KDS publishes for the SEV-SNP report `bytes` (read as `format`) at
    /// `time`, from the cache or fetched (`AMDKDSCache.endorsement`): the VCEK unless the evidence or --vcek gives
    /// it, the ASK when --trust-anchor gives only the ARK, the product line's CRL (a KDS without one is said on
    /// standard error). The fetched ARK is never trusted: --trust-anchor stays the only root. Nothing is added
    /// without --kds, or when the report does not decode (the appraisal says why); other formats are a usage error.
    private func addFetchedEndorsement(
        _ bytes: [UInt8], format: EvidenceFormat, at time: Date, to trust: inout TrustStore
    ) async throws {
        guard let kds = kdsOptions.kds else { return }
        guard format == .snp else {
            throw ValidationError("--kds fetches VCEKs for AMD SEV-SNP reports; \(evidence) is \(format.name)")
        }
        guard case .read(let snp, _) = SEVSNPReportVerifier().read(bytes, cache: nil),
            let cache = try kdsOptions.cache()
        else { return }
        let anchors = trust[.snp]
        let (fetched, crlPublished) = try await reportingErrors {
            () async throws -> (TrustStore.FormatTrust, Bool) in
            try await cache.endorsement(
                for: snp, product: product.flatMap(AMDProductLine.init(rawValue:)), adding: anchors, at: time)
        }
        if !crlPublished {
            printToStandardError(
                "warning: the KDS \(kds) publishes no CRL for this product line (404): the ASK's revocation is not "
                    + "checked")
        }
        trust[.snp] = fetched
    }

    /// The roots and CRLs given, for `format`; without them the published trust of the platform in the home (its
    /// root, CRLs and TCB-status list, and its simulated vendors' roots and collateral: evidence of every kind it
    /// makes), or, with no platform there, the advice naming the format's roots.
    private func trustStore(for format: EvidenceFormat?) throws -> TrustStore {
        let anchors = try trustAnchors.flatMap { try CommandInput.certificates($0, "--trust-anchor") }
        let format = format ?? .cloister
        guard anchors.isEmpty else {
            let lists = try crls.flatMap { try CommandInput.revocationLists($0, "--crl") }
            guard format == .snp else {
                let items = try collateral.map(CommandInput.dcapCollateral)
                return TrustStore([
                    format: TrustStore.FormatTrust(roots: anchors, revocationLists: lists, collateral: items)
                ])
            }
            // AMD publishes each product line's ASK, ARK and ASVK in one file: the self-signed ARK is the root, the
            // others (and the VCEKs given) are certificates the chain may use.
            let keys = try endorsementKeys.flatMap { try CommandInput.certificatesDERorPEM($0, "--vcek") }
            return TrustStore([
                .snp: .sevSNP(
                    vendorChain: anchors, endorsementKeys: keys.map(\.derRepresentation), revocationLists: lists)
            ])
        }
        let platformHome = PlatformHome.resolve(home, environment: ProcessInfo.processInfo.environment)
        guard format == .cloister || platformHome.isInitialized else {
            throw ValidationError(
                EvidenceFormatRegistry.standard.verifier(for: format)?.trustAnchorAdvice
                    ?? "\(format.name) evidence needs --trust-anchor")
        }
        return try reportingErrors {
            try PlatformHome.resolve(home, environment: ProcessInfo.processInfo.environment).publishedTrust()
                .trustStore
        }
    }

    private func resultSigner() throws -> ResultSigner {
        let build = "cloister \(CloisterVersion.string)"
        guard let signingKey else { return try ResultSigner(key: ECPrivateKey(generating: .p256), build: build) }
        return try ResultSigner(key: CommandInput.privateKey(signingKey, "--signing-key"), build: build)
    }

    static func date(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601)
    }
}
