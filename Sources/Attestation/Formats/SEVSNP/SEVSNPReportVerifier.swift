public import CloisterCrypto
public import FoundationEssentials

extension EvidenceFormat {
    /// An AMD SEV-SNP attestation report, alone or with its extended report's certificate table.
    public static let snp = EvidenceFormat(
        "snp", name: "AMD SEV-SNP attestation report", mediaType: "application/vnd.amd.sev-snp.attestation-report",
        statesTCBStatus: false, referenceClaims: SEVSNPReportClaims.referenceClaims)
}

extension CheckName {
    /// The key that signed the report is the kind the report names (VCEK or VLEK), in AMD's profile: RSA-PSS
    /// SHA-384 signed, an ECDSA P-384 key, its AMD extensions read.
    public static let endorsementKey = CheckName("endorsement-key", aspect: .instanceIdentity, isCryptographic: true)
    /// The endorsement key was made for this chip at this TCB: its TCB extensions are the report's REPORTED_TCB and,
    /// for a VCEK, its hwID is the report's CHIP_ID.
    public static let tcbBinding = CheckName("tcb-binding", aspect: .hardware)
    /// The chain's root is the ARK of the endorsement key's product line.
    public static let productLine = CheckName("product-line", aspect: .hardware)
}

/// Verifies AMD SEV-SNP reports at an explicit time, every check named: `endorsement-key` (the VCEK or VLEK the
/// report names, from the evidence's certificate table or the configured certificates, in AMD's profile),
/// `signature` (ECDSA P-384 over bytes 0x000–0x29F), `trust-anchor` and `certificate-chain` (the endorsement key
/// through the ASK or ASVK to a pinned ARK, in AMD's certificate profile: their VCEKs carry serial number 0; AMD's
/// CRLs checked when configured), `product-line` (the ARK is the endorsement key's product line's) and `tcb-binding`.
/// The ARKs of Milan, Genoa and Turin are pinned by fingerprint; a root with another draws a warning.
public struct SEVSNPReportVerifier: FormatVerifier {
    public init() {}

    public var format: EvidenceFormat { .snp }

    public var trustAnchorAdvice: String {
        let arks = TrustStore.amdARKFingerprints.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        return "no AMD ARK is configured: download the product line's certificate chain from "
            + "\(TrustStore.amdKDSURL)/vcek/v1/{Milan,Genoa,Turin}/cert_chain (ARK SHA-256: "
            + arks.joined(separator: ", ") + ") and pass it with --trust-anchor, with the VCEK (--vcek) unless the "
            + "evidence carries it"
    }

    public func read(_ bytes: [UInt8], cache: EvidenceCache?) -> EvidenceReading<SEVSNPEvidence> {
        switch SEVSNPReportHeader.read(bytes) {
        case .notThisFormat: return .notThisFormat
        case .malformed(let error): return .malformed(error)
        case .read(_, let summary):
            do {
                let evidence = try SEVSNPEvidence(bytes)
                let table = evidence.certificates.isEmpty ? "" : " with \(evidence.certificates.count) certificates"
                return .read(evidence, summary: "\(summary)\(table), signed by its \(evidence.report.signingKey)")
            } catch {
                return .malformed(error)
            }
        }
    }

    public func verify(
        _ evidence: SEVSNPEvidence, trust: TrustStore, cache: EvidenceCache?, at time: Date
    ) -> FormatVerification {
        let anchors = trust[.snp]
        let report = evidence.report
        let given = (evidence.certificates.values.map { $0 } + anchors.collateral).compactMap { der in
            (try? cache?.certificate(der)) ?? (try? X509Certificate(derRepresentation: der))
        }
        var checks: [EvidenceCheck] = []
        let endorsement = endorsementKey(evidence, among: given, cache: cache, into: &checks)
        guard let (certificate, extensions) = endorsement else {
            checks.append(
                EvidenceCheck(
                    .signature, passed: false, "no \(report.signingKey) certificate to verify the report with"))
            return FormatVerification(checks: checks, claims: claims(report, productLine: nil, simulated: false))
        }
        checks.append(report.signatureCheck(endorsementKey: certificate))
        let intermediates = given.filter { $0 != certificate && $0.isCertificateAuthority && !$0.isSelfIssued }
        let path = CertificateChainCheck(
            roots: anchors.roots, revocationLists: anchors.revocationLists, requiresRevocationCheck: false,
            enforcesStrictProfile: false, missingRoot: trustAnchorAdvice
        ).run(leaf: certificate, intermediates: intermediates, at: time, cache: cache, into: &checks)
        let line = extensions.productLine
        var warnings: [String] = []
        if let anchor = path?.last {
            let (check, warning) = Self.productLineCheck(anchor: anchor, endorsementKey: extensions)
            checks.append(check)
            warnings += warning.map { [$0] } ?? []
        }
        checks.append(tcbBinding(report, extensions))
        let simulated = trust.isCloisterRooted([certificate] + (path ?? []))
        return FormatVerification(
            checks: checks, claims: claims(report, productLine: line, simulated: simulated), warnings: warnings)
    }

    /// `product-line`: the chain's root is the ARK of the endorsement key's product line: by its pinned fingerprint, or
    /// for a root that is not one of AMD's published ARKs (then also a warning) by its name, `ARK-<line>`, or for a
    /// simulated ARK (one carrying Cloister's platform-id extension) `Cloister Simulated ARK-<line>`, which the check
    /// names as simulated (without a warning: the policy's `simulated` check speaks for simulated evidence, as for
    /// every other format).
    static func productLineCheck(
        anchor: X509Certificate, endorsementKey extensions: AMDEndorsementKeyExtensions
    ) -> (EvidenceCheck, warning: String?) {
        let fingerprint = hexEncoded(anchor.sha256Fingerprint)
        let pinnedLine = TrustStore.amdARKFingerprints.first { $0.value == fingerprint }?.key
        let line = extensions.productLine
        let simulated = isSimulated(anchor, named: "ARK-\(line)")
        let check = EvidenceCheck(
            .productLine,
            passed: pinnedLine.map { $0 == line } ?? (anchor.description.contains("CN=ARK-\(line)") || simulated),
            "the endorsement key is \(extensions.productName)'s; the chain ends at \(anchor.subject)"
                + (pinnedLine == nil && simulated ? ", a simulated ARK of \(line) (no AMD ARK is pinned)" : ""))
        let warning =
            pinnedLine == nil && !simulated
            ? "the AMD trust anchor \(anchor.subject) (SHA-256 \(fingerprint)) is not one of AMD's published ARKs" : nil
        return (check, warning)
    }

    /// Whether `certificate` is a simulated AMD certificate named `name`: it carries Cloister's platform-id extension
    /// and its common name is `Cloister Simulated <name>` (simulated hardware never takes AMD's exact names).
    static func isSimulated(_ certificate: X509Certificate, named name: String) -> Bool {
        certificate.extension(oid: PlatformCertificateExtensions.platformIDOID) != nil
            && certificate.subject.commonName == "Cloister Simulated \(name)"
    }

    /// The endorsement key of the kind the report names: the evidence's own, else a configured certificate of that
    /// kind made for this chip (VCEK) at this TCB; appends `endorsement-key`.
    private func endorsementKey(
        _ evidence: SEVSNPEvidence, among certificates: [X509Certificate], cache: EvidenceCache?,
        into checks: inout [EvidenceCheck]
    ) -> (X509Certificate, AMDEndorsementKeyExtensions)? {
        /// A certificate's AMD extensions, read once per certificate with `cache`.
        func extensions(of certificate: X509Certificate) throws(AttestationError) -> AMDEndorsementKeyExtensions {
            guard let cache else { return try AMDEndorsementKeyExtensions(of: certificate) }
            return try cache.reading(certificate.sha256Fingerprint) { () throws(AttestationError) in
                try AMDEndorsementKeyExtensions(of: certificate)
            }
        }
        let report = evidence.report
        let kind = report.signingKey
        guard kind != .none else {
            checks.append(EvidenceCheck(.endorsementKey, passed: false, "the report is not signed (signing key 7)"))
            return nil
        }
        let role: SEVSNPEvidence.CertificateRole = kind == .vcek ? .vcek : .vlek
        let carried = evidence.certificates[role].flatMap { try? X509Certificate(derRepresentation: $0) }
        let candidates =
            carried.map { [$0] }
            ?? certificates.filter { certificate in
                guard let extensions = try? extensions(of: certificate) else { return false }
                return extensions.tcb == report.reportedTCB
                    && (kind == .vlek
                        ? extensions.cloudServiceProviderID != nil
                        : report.chipIDMasked || extensions.hardwareID == report.chipID)
            }
        guard let certificate = candidates.first else {
            checks.append(
                EvidenceCheck(
                    .endorsementKey, passed: false,
                    "no \(kind) certificate for chip \(hexEncoded(Array(report.chipID.prefix(8))))… at TCB 0x"
                        + "\(String(report.reportedTCB, radix: 16)) is in the evidence or configured (--vcek)"))
            return nil
        }
        do throws(AttestationError) {
            let extensions = try extensions(of: certificate)
            let expectedName = "SEV-\(kind)"
            guard certificate.signatureAlgorithm == "rsassaPss", certificate.publicKeyAlgorithm == "id-ecPublicKey",
                (try? certificate.publicKey().curve) == .p384,
                certificate.description.contains("CN=\(expectedName)")
                    || Self.isSimulated(certificate, named: expectedName),
                (kind == .vcek) == (extensions.hardwareID != nil)
            else {
                throw AttestationError(
                    .badCertificate,
                    "\(certificate.description) is not a \(kind) in AMD's profile (CN \(expectedName), RSA-PSS "
                        + "signed, an ECDSA P-384 key, \(kind == .vcek ? "a hwID" : "a provider id"))")
            }
            checks.append(
                EvidenceCheck(
                    .endorsementKey, passed: true,
                    "\(kind) \(certificate.description) of \(extensions.productName)"
                        + (carried == nil ? " (configured)" : " (in the evidence)")))
            return (certificate, extensions)
        } catch {
            checks.append(EvidenceCheck(.endorsementKey, passed: false, error.reason))
            return nil
        }
    }

    private func tcbBinding(_ report: SEVSNPReport, _ extensions: AMDEndorsementKeyExtensions) -> EvidenceCheck {
        EvidenceCheck.run(.tcbBinding, "the endorsement key was made for this chip at the report's TCB") {
            guard extensions.tcb == report.reportedTCB else {
                throw AttestationError(
                    .badCertificate,
                    "the endorsement key's TCB 0x\(String(extensions.tcb, radix: 16)) is not the report's reported "
                        + "TCB 0x\(String(report.reportedTCB, radix: 16))")
            }
            if let hardwareID = extensions.hardwareID, !report.chipIDMasked, hardwareID != report.chipID {
                throw AttestationError(.badCertificate, "the VCEK's hwID is not the report's CHIP_ID")
            }
        }
    }

    private func claims(_ report: SEVSNPReport, productLine: String?, simulated: Bool) -> VerifiedClaims {
        VerifiedClaims(
            format: .snp, timestamp: nil, pcrs: [:], measurement: hexEncoded(report.measurement), signer: nil,
            nonce: nil, userData: nil, publicKey: nil, reportData: hexEncoded(report.reportData),
            debug: report.allowsDebug, simulated: simulated, productID: nil, svn: nil, tcbStatus: nil,
            details: SEVSNPReportClaims(report, productLine: productLine))
    }
}

/// What only an SEV-SNP report states beyond the core (which carries its MEASUREMENT, REPORT_DATA, and the guest
/// policy's DEBUG bit).
public struct SEVSNPReportClaims: FormatClaims {
    /// The claims a policy may name in its `claims` table.
    public static let referenceClaims = [
        "host_data", "id_key_digest", "author_key_digest", "family_id", "image_id", "chip_id",
    ]

    public let values: [String: String]
    public let guestSVN: UInt32
    public let vmpl: UInt32
    public let policy: UInt64
    public let platformInfo: UInt64
    public let signingKey: String
    /// TCB_VERSION values as 16 hex digits: current, committed, launch, reported.
    public let tcbs: [String: String]
    public let allowsMigrationAgent: Bool
    public let allowsSMT: Bool
    /// The TCB the report's key was made for, and the platform's current TCB (TCB_VERSION values).
    public let reportedTCB: UInt64
    public let currentTCB: UInt64
    /// The product line of the endorsement key ("Milan", "Genoa", "Turin"), which decides how a TCB_VERSION packs
    /// its components; nil when no endorsement key was found.
    public let productLine: String?

    init(_ report: SEVSNPReport, productLine: String?) {
        values = [
            "host_data": report.hostData, "id_key_digest": report.idKeyDigest,
            "author_key_digest": report.authorKeyDigest, "family_id": report.familyID, "image_id": report.imageID,
            "chip_id": report.chipID,
        ].mapValues(hexEncoded)
        guestSVN = report.guestSVN
        vmpl = report.vmpl
        policy = report.policy
        platformInfo = report.platformInfo
        signingKey = report.signingKey.description
        func tcb(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }
        tcbs = [
            "current_tcb": tcb(report.currentTCB), "committed_tcb": tcb(report.committedTCB),
            "launch_tcb": tcb(report.launchTCB), "reported_tcb": tcb(report.reportedTCB),
        ]
        allowsMigrationAgent = report.allowsMigrationAgent
        allowsSMT = report.allowsSMT
        reportedTCB = report.reportedTCB
        currentTCB = report.currentTCB
        self.productLine = productLine
    }

    public var referenceValues: [String: String] { values }

    public func encode(into container: inout KeyedEncodingContainer<ClaimKey>) throws {
        for (name, value) in (values.merging(tcbs) { first, _ in first }).sorted(by: { $0.key < $1.key }) {
            try container.encode(value, forKey: ClaimKey(stringValue: name))
        }
        try container.encode(guestSVN, forKey: "guest_svn")
        try container.encodeIfPresent(productLine, forKey: "product_line")
        try container.encode(allowsMigrationAgent, forKey: "migration_agent_allowed")
        try container.encode(platformInfo, forKey: "platform_info")
        try container.encode(policy, forKey: "guest_policy")
        try container.encode(signingKey, forKey: "signing_key")
        try container.encode(allowsSMT, forKey: "smt_allowed")
        try container.encode(vmpl, forKey: "vmpl")
    }
}

extension TrustStore {
    /// AMD's Key Distribution Service, which publishes each product line's ARK and ASK and each chip's VCEKs.
    public static let amdKDSURL = "https://kdsintf.amd.com"
    /// The SHA-256 fingerprints (of the DER) of AMD's ARKs, by product line, as AMD publishes them.
    public static let amdARKFingerprints = [
        "Milan": "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
        "Genoa": "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
        "Turin": "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
    ]
}
