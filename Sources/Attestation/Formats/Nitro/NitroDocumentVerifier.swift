public import CloisterCrypto
public import FoundationEssentials

extension EvidenceFormat {
    /// An AWS Nitro Enclaves attestation document: a COSE_Sign1 document without Cloister's claims.
    public static let nitro = EvidenceFormat(
        "nitro", name: "AWS Nitro Enclaves attestation document",
        mediaType: "application/vnd.aws.nitro-enclaves.attestation+cose", statesTCBStatus: false)
}

extension CheckName {
    /// The document's PCRs are SHA-384, as Nitro makes them.
    public static let digest = CheckName("digest", aspect: .instanceIdentity)
    /// A document signed under Cloister's own quote PKI carries the `cloister` claims every Cloister quote carries.
    public static let cloisterClaims = CheckName("cloister-claims", aspect: .hardware)
}

/// Verifies AWS Nitro Enclaves attestation documents: `signature` (COSE_Sign1 with the leaf key, over the bytes as
/// received), `certificate-chain` (leaf -> CA bundle -> a pinned root at the appraisal's time, CRLs checked when
/// given) and `digest`; a document whose chain ends at a root that is not AWS's draws a warning.
///
/// Whether evidence is simulated comes from its trust anchor, never from its claims: a document whose certificates
/// reach a Cloister platform (`TrustStore.isCloisterRooted`) is simulated: a simulated Nitro-shaped document (the
/// platform's Nitro vendor) is read as one, and a document signed under Cloister's own quote PKI without the
/// `cloister` claims fails `cloister-claims` rather than passing for Nitro evidence.
public struct NitroDocumentVerifier: FormatVerifier {
    public init() {}

    public var format: EvidenceFormat { .nitro }

    public var trustAnchorAdvice: String {
        "no AWS Nitro root is configured: download AWS's root G1 from \(TrustStore.awsNitroRootURL) "
            + "(DER SHA-256 \(TrustStore.awsNitroRootG1Fingerprint)) and pass it with --trust-anchor"
    }

    /// A COSE_Sign1 attestation document without the `cloister` claims; one with them is a Cloister quote.
    public func read(_ bytes: [UInt8], cache: EvidenceCache?) -> EvidenceReading<SignedAttestationDocument> {
        switch SignedAttestationDocument.read(bytes, cache: cache) {
        case .read(let signed, let summary):
            return signed.document.cloister == nil ? .read(signed, summary: summary) : .notThisFormat
        case .malformed(let error): return .malformed(error)
        case .notThisFormat: return .notThisFormat
        }
    }

    public func verify(
        _ signed: SignedAttestationDocument, trust: TrustStore, cache: EvidenceCache?, at time: Date
    ) -> FormatVerification {
        let anchors = trust[.nitro]
        var checks = [
            EvidenceCheck.run(.signature, "signed by \(signed.certificate)") { try signed.verifySignature() }
        ]
        let path = CertificateChainCheck(
            roots: anchors.roots, revocationLists: anchors.revocationLists, requiresRevocationCheck: false,
            enforcesStrictProfile: false,
            missingRoot: trustAnchorAdvice
        ).run(leaf: signed.certificate, intermediates: signed.caBundle, at: time, cache: cache, into: &checks)
        var warnings: [String] = []
        let simulated = trust.isCloisterRooted([signed.certificate] + signed.caBundle + (path ?? []))
        if trust.reachesCloisterQuotePKI([signed.certificate] + signed.caBundle + (path ?? [])) {
            checks.append(
                EvidenceCheck(
                    .cloisterClaims, passed: false,
                    "the evidence chains to a Cloister platform (simulated), but lacks the \"cloister\" claims "
                        + "every Cloister quote carries; it is refused, not read as AWS Nitro evidence"))
        } else if simulated {
            warnings = []
        } else if let anchor = path?.last {
            warnings = TrustStore.nitroRootWarning(for: anchor).map { [$0] } ?? []
        } else {
            warnings = trust.nitroRootWarnings
        }
        let digest = signed.document.digest
        checks.append(
            EvidenceCheck(
                .digest, passed: digest == "SHA384",
                "PCR digest \(digest)\(digest == "SHA384" ? "" : ", Nitro uses SHA384")"))
        return FormatVerification(
            checks: checks,
            claims: VerifiedClaims(
                signed, format: .nitro, debug: (signed.document.pcrs[0] ?? []).allSatisfy { $0 == 0 },
                simulated: simulated, details: NitroDocumentClaims(moduleID: signed.document.moduleID)),
            warnings: warnings)
    }
}

/// What only a Nitro document states beyond the core: the enclave's module id.
public struct NitroDocumentClaims: FormatClaims {
    public let moduleID: String

    public func encode(into container: inout KeyedEncodingContainer<ClaimKey>) throws {
        try container.encode(moduleID, forKey: "module_id")
    }
}

extension TrustStore {
    /// AWS's published SHA-256 fingerprint (of the DER) of the AWS Nitro Enclaves root G1.
    public static let awsNitroRootG1Fingerprint = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
    /// Where AWS publishes that root.
    public static let awsNitroRootURL = "https://aws-nitro-enclaves.amazonaws.com/AWS_NitroEnclaves_Root-G1.zip"

    /// AWS Nitro roots.
    public var nitroRoots: [X509Certificate] {
        get { self[.nitro].roots }
        set { self[.nitro].roots = newValue }
    }

    /// A warning for each Nitro root that is not the one AWS publishes (by fingerprint).
    public var nitroRootWarnings: [String] {
        nitroRoots.compactMap(Self.nitroRootWarning(for:))
    }

    /// A warning when `root` is not the Nitro root AWS publishes (by fingerprint), else nil.
    static func nitroRootWarning(for root: X509Certificate) -> String? {
        let fingerprint = hexEncoded(root.sha256Fingerprint)
        guard fingerprint != awsNitroRootG1Fingerprint else { return nil }
        return "the Nitro trust anchor \(root.subject) (SHA-256 \(fingerprint)) is not AWS's published root G1 "
            + "(\(awsNitroRootG1Fingerprint))"
    }
}
