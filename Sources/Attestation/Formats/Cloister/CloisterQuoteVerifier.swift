public import CloisterCrypto
public import FoundationEssentials

extension EvidenceFormat {
    /// A Cloister quote: a COSE_Sign1 attestation document shaped like AWS Nitro's, with the `cloister` claims.
    public static let cloister = EvidenceFormat(
        "cloister", name: "Cloister quote", mediaType: "application/vnd.cloister.quote+cose", statesTCBStatus: true)
}

extension CheckName {
    /// The claimed platform id and TCB level are the certified ones, and the claims say simulated.
    public static let platformBinding = CheckName("platform-binding", aspect: .hardware)
    /// The platform's signed TCB-status list verifies and speaks for this platform.
    public static let tcbStatus = CheckName("tcb-status", aspect: .hardware)
}

/// A Cloister quote as read: the signed document and its `cloister` claims.
public struct CloisterQuote: Sendable {
    public let signed: SignedAttestationDocument
    public let claims: CloisterClaims
}

/// Verifies Cloister quotes: `signature` (COSE_Sign1 with the leaf key, over the bytes as received),
/// `certificate-chain` to a Cloister platform root at the appraisal's time (strict RFC 5280 profile, a current CRL
/// from every issuer), `platform-binding` (the claimed platform id and TCB level are the certified ones, and the
/// claims say simulated) and `tcb-status` (the platform's signed TCB-status list verifies and speaks for it).
///
/// A quote is checked only against Cloister platform roots, so it is simulated whatever its claims say (DESIGN
/// invariant 5).
public struct CloisterQuoteVerifier: FormatVerifier {
    public init() {}

    public var format: EvidenceFormat { .cloister }

    public var trustAnchorAdvice: String {
        "no Cloister platform root is configured (cloister platform info prints it)"
    }

    /// A COSE_Sign1 attestation document that carries the `cloister` claims; one without them is another format's.
    public func read(_ bytes: [UInt8], cache: EvidenceCache?) -> EvidenceReading<CloisterQuote> {
        switch SignedAttestationDocument.read(bytes, cache: cache) {
        case .read(let signed, let summary):
            guard let claims = signed.document.cloister else { return .notThisFormat }
            return .read(CloisterQuote(signed: signed, claims: claims), summary: summary)
        case .malformed(let error): return .malformed(error)
        case .notThisFormat: return .notThisFormat
        }
    }

    public func verify(
        _ quote: CloisterQuote, trust: TrustStore, cache: EvidenceCache?, at time: Date
    ) -> FormatVerification {
        let signed = quote.signed
        let anchors = trust[.cloister]
        var checks = [
            EvidenceCheck.run(.signature, "signed by \(signed.certificate)") { try signed.verifySignature() }
        ]
        let path = CertificateChainCheck(
            roots: anchors.roots, revocationLists: anchors.revocationLists, requiresRevocationCheck: true,
            enforcesStrictProfile: true,
            missingRoot: trustAnchorAdvice
        ).run(leaf: signed.certificate, intermediates: signed.caBundle, at: time, cache: cache, into: &checks)
        checks.append(platformBinding(signed, path: path, claims: quote.claims))
        let (check, status) = tcbCheck(quote.claims, anchors: anchors, cache: cache)
        checks.append(check)
        let claims = quote.claims
        return FormatVerification(
            checks: checks,
            claims: VerifiedClaims(
                signed, format: .cloister, debug: claims.debug, simulated: true, productID: claims.productID,
                svn: claims.svn, tcbStatus: status,
                details: CloisterQuoteClaims(
                    moduleID: signed.document.moduleID, platformID: hexEncoded(claims.platformID),
                    tcbLevel: claims.tcbLevel, isolation: claims.isolation)))
    }

    private func platformBinding(
        _ signed: SignedAttestationDocument, path: [X509Certificate]?, claims: CloisterClaims
    ) -> EvidenceCheck {
        let platformCertificate = path.map { $0.count == 3 ? $0[1] : nil } ?? signed.caBundle.last
        let certifiedID = platformCertificate.flatMap(PlatformCertificateExtensions.platformID(of:))
        let certifiedLevel = platformCertificate.flatMap(PlatformCertificateExtensions.tcbLevel(of:))
        guard certifiedID == claims.platformID, certifiedLevel == claims.tcbLevel else {
            return EvidenceCheck(
                .platformBinding, passed: false,
                "the claimed platform id or TCB level differs from the platform certificate's")
        }
        guard claims.simulated else {
            return EvidenceCheck(
                .platformBinding, passed: false,
                "the claims say simulated = false, but a Cloister platform is simulated: its quotes always say true")
        }
        return EvidenceCheck(
            .platformBinding, passed: true,
            "platform \(hexEncoded(claims.platformID)) at TCB level \(claims.tcbLevel), as certified")
    }

    /// The TCB status of the claimed level by a list (the format's collateral) that a pinned root signed for the
    /// claimed platform. The list is checked against the pinned roots themselves, so a chain failure is reported
    /// once, by the chain check.
    private func tcbCheck(
        _ claims: CloisterClaims, anchors: TrustStore.FormatTrust, cache: EvidenceCache?
    ) -> (EvidenceCheck, TCBStatus?) {
        var problems: [String] = []
        for list in anchors.collateral {
            for root in anchors.roots {
                do {
                    let status = try cache?.statusList(list, root: root) ?? TCBStatusList(encoded: list, root: root)
                    guard status.platformID == claims.platformID else { continue }
                    let standing = status.status(of: claims.tcbLevel)
                    return (
                        EvidenceCheck(
                            .tcbStatus, passed: true,
                            "TCB level \(claims.tcbLevel) is \(standing.rawValue) (latest \(status.latestLevel))"),
                        standing
                    )
                } catch let error as AttestationError {
                    problems.append(error.reason)
                } catch {
                    problems.append("\(error)")
                }
            }
        }
        return (
            EvidenceCheck(
                .tcbStatus, passed: false,
                "no TCB-status list signed by the platform root speaks for this platform"
                    + (problems.isEmpty ? "" : ": " + problems.joined(separator: "; "))),
            nil
        )
    }
}

/// What only a Cloister quote states: the module, the platform and its TCB level, and the isolation applied.
public struct CloisterQuoteClaims: FormatClaims {
    public let moduleID: String
    /// The platform's 16-byte id, hex.
    public let platformID: String
    /// The platform's TCB level when it made the quote.
    public let tcbLevel: UInt32
    /// The isolation mechanisms the platform applied, sorted.
    public let isolation: [String]

    public func encode(into container: inout KeyedEncodingContainer<ClaimKey>) throws {
        try container.encode(isolation, forKey: "isolation")
        try container.encode(moduleID, forKey: "module_id")
        try container.encode(platformID, forKey: "platform_id")
        try container.encode(tcbLevel, forKey: "tcb_level")
    }
}

extension TrustStore {
    /// Cloister platform roots. Every one is a simulated platform's: evidence that chains to one is simulated.
    public var cloisterRoots: [X509Certificate] {
        get { self[.cloister].roots }
        set { self[.cloister].roots = newValue }
    }

    /// CRLs of the Cloister platforms' CAs.
    public var cloisterRevocationLists: [CertificateRevocationList] {
        get { self[.cloister].revocationLists }
        set { self[.cloister].revocationLists = newValue }
    }

    /// Signed TCB-status lists (Cloister's collateral), each verified against the root that signed it.
    public var tcbStatusLists: [[UInt8]] {
        get { self[.cloister].collateral }
        set { self[.cloister].collateral = newValue }
    }

    /// Whether `certificates` (a document's leaf and CA bundle, and the path verified from them) reach a Cloister
    /// platform: one of them is a configured Cloister root, or carries the platform-id extension that only a Cloister
    /// platform's certificates have (its own PKI's and every simulated vendor's, Intel-, AMD- or AWS-shaped).
    /// Evidence that does is simulated, whatever it claims and whichever list of roots its chain was verified against.
    public func isCloisterRooted(_ certificates: [X509Certificate]) -> Bool {
        let roots = cloisterRoots
        return certificates.contains { certificate in
            roots.contains(certificate)
                || certificate.extension(oid: PlatformCertificateExtensions.platformIDOID) != nil
        }
    }

    /// Whether `certificates` reach the PKI of Cloister's own quotes: a configured Cloister root, or the platform
    /// certificate, which alone states a TCB level. A document signed there is a Cloister quote and must carry the
    /// `cloister` claims; a simulated vendor's (a Nitro-shaped document) is simulated but not a Cloister quote.
    public func reachesCloisterQuotePKI(_ certificates: [X509Certificate]) -> Bool {
        let roots = cloisterRoots
        return certificates.contains { certificate in
            roots.contains(certificate)
                || certificate.extension(oid: PlatformCertificateExtensions.tcbLevelOID) != nil
        }
    }
}
