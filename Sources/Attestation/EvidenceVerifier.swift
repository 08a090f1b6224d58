import CloisterCBOR
import CloisterCrypto
public import FoundationEssentials

/// The evidence stage of an appraisal: decode, then every cryptographic check of the format, each reported by name.
///
/// Both formats: `decode`, `format` (when one was asked for), `trust-anchor` (a root is configured for the format),
/// `signature` (COSE_Sign1 with the leaf key, over the bytes as received), `certificate-chain` (leaf -> CA bundle ->
/// a pinned root at `time`). Cloister quotes also get CRLs required for every certificate and the strict RFC 5280
/// profile, `platform-binding` (the claimed platform id and TCB level are the certified ones, and the claims say
/// simulated) and `tcb-status` (the platform's signed TCB-status list verifies and speaks for this platform). A
/// document without Cloister claims whose certificates reach a Cloister platform fails `cloister-claims`; other Nitro
/// documents get `digest`, and a warning when their chain ends at a root that is not AWS's.
///
/// Whether evidence is simulated comes from its trust anchor, never from its claims: a Cloister quote is checked only
/// against Cloister platform roots and is simulated; so is a document whose certificates reach a Cloister platform
/// (`TrustStore.isCloisterRooted`). Policy decisions (reference values, debug, simulation, freshness) belong to the
/// verifier, not here. The verifier never reads the clock.
public struct EvidenceVerifier: Sendable {
    public let trust: TrustStore
    /// Parsed certificates, verified chains and TCB-status lists from earlier appraisals, if kept.
    public let cache: EvidenceCache?

    public init(trust: TrustStore, cache: EvidenceCache? = nil) {
        self.trust = trust
        self.cache = cache
    }

    /// The outcome of the evidence stage.
    public struct Outcome: Sendable {
        public let format: EvidenceFormat?
        public let document: SignedAttestationDocument?
        /// The claims, when the evidence decoded (even if a check failed: the result names what failed).
        public let claims: VerifiedClaims?
        public let checks: [EvidenceCheck]
        /// Things worth saying that do not fail a check (a Nitro root that is not AWS's); an appraisal with any is at
        /// best a warning.
        public let warnings: [String]

        /// Whether every check passed.
        public var passed: Bool { !checks.isEmpty && checks.allSatisfy(\.passed) }
    }

    /// Verifies `evidence` at `time`; `format` nil detects it.
    public func verify(_ evidence: [UInt8], format requested: EvidenceFormat? = nil, at time: Date) -> Outcome {
        let signed: SignedAttestationDocument
        do {
            signed = try SignedAttestationDocument(encoded: evidence, cache: cache)
        } catch {
            return Outcome(
                format: requested, document: nil, claims: nil,
                checks: [EvidenceCheck("decode", passed: false, error.reason)], warnings: [])
        }
        let format = EvidenceFormat.detect(signed.document)
        var checks = [
            EvidenceCheck("decode", passed: true, "COSE_Sign1 \(signed.message.algorithm.name) attestation document")
        ]
        if let requested {
            checks.append(
                EvidenceCheck(
                    "format", passed: requested == format,
                    requested == format
                        ? "\(format.rawValue) evidence"
                        : "the evidence is \(format.rawValue), not \(requested.rawValue)"))
        }
        checks.append(
            EvidenceCheck.run("signature", "signed by \(signed.certificate)") { try signed.verifySignature() })
        var warnings: [String] = []
        var tcbStatus: TCBStatusList.Status?
        // Simulated is what the trust anchor says, never what the document claims (DESIGN invariant 5).
        let simulated: Bool
        switch format {
        case .cloister:
            // Only ever checked against Cloister platform roots: a quote is simulated whatever its claims say.
            simulated = true
            let path = chainCheck(
                signed, roots: trust.cloisterRoots, crls: trust.cloisterRevocationLists, strict: true, at: time,
                missingRoot: "no Cloister platform root is configured (cloister platform info prints it)",
                into: &checks)
            if let claims = signed.document.cloister {
                checks.append(platformBinding(signed, path: path, claims: claims))
                let (check, status) = tcbCheck(claims)
                checks.append(check)
                tcbStatus = status
            }
        case .nitro:
            let path = chainCheck(
                signed, roots: trust.nitroRoots, crls: [], strict: false, at: time,
                missingRoot:
                    "no AWS Nitro root is configured: download AWS's root G1 from \(TrustStore.awsNitroRootURL) "
                    + "(DER SHA-256 \(TrustStore.awsNitroRootG1Fingerprint)) and pass it with --trust-anchor",
                into: &checks)
            simulated = trust.isCloisterRooted([signed.certificate] + signed.caBundle + (path ?? []))
            if simulated {
                checks.append(
                    EvidenceCheck(
                        "cloister-claims", passed: false,
                        "the evidence chains to a Cloister platform (simulated), but lacks the \"cloister\" claims "
                            + "every Cloister quote carries; it is refused, not read as AWS Nitro evidence"))
            } else if let anchor = path?.last {
                warnings = TrustStore.nitroRootWarning(for: anchor).map { [$0] } ?? []
            } else {
                warnings = trust.nitroRootWarnings
            }
            checks.append(
                EvidenceCheck(
                    "digest", passed: signed.document.digest == "SHA384",
                    "PCR digest \(signed.document.digest)\(signed.document.digest == "SHA384" ? "" : ", Nitro uses SHA384")"
                ))
        }
        return Outcome(
            format: format, document: signed,
            claims: VerifiedClaims(signed, format: format, simulated: simulated, tcbStatus: tcbStatus),
            checks: checks, warnings: warnings)
    }

    private func chainCheck(
        _ signed: SignedAttestationDocument, roots: [X509Certificate], crls: [CertificateRevocationList], strict: Bool,
        at time: Date, missingRoot: String, into checks: inout [EvidenceCheck]
    ) -> [X509Certificate]? {
        guard !roots.isEmpty else {
            checks.append(EvidenceCheck("trust-anchor", passed: false, missingRoot))
            return nil
        }
        let verifier = CertificateChainVerifier(
            trustAnchors: roots, requiresRevocationCheck: strict, enforcesStrictProfile: strict)
        let key = cache.map { _ in
            EvidenceCache.chainKey(
                leaf: signed.certificate, bundle: signed.caBundle, anchors: roots, crls: crls, strict: strict)
        }
        if let key, let path = cache?.chain(key, at: time) {
            checks.append(
                EvidenceCheck(
                    "certificate-chain", passed: true, "chains to a pinned root (verified earlier, still valid)"))
            return path
        }
        var path: [X509Certificate]?
        checks.append(
            EvidenceCheck.run(
                "certificate-chain", strict ? "chains to a pinned root, none revoked" : "chains to a pinned root"
            ) {
                path = try signed.verifyCertificates(with: verifier, crls: crls, at: time)
            })
        if let key, let path {
            cache?.storeChain(
                key, path: path, crls: crls.filter { crl in path.contains { crl.isIssued(byNameOf: $0) } })
        }
        return path
    }

    private func platformBinding(
        _ signed: SignedAttestationDocument, path: [X509Certificate]?, claims: CloisterClaims
    ) -> EvidenceCheck {
        let platformCertificate = path.map { $0.count == 3 ? $0[1] : nil } ?? signed.caBundle.last
        let certifiedID = platformCertificate.flatMap(PlatformCertificateExtensions.platformID(of:))
        let certifiedLevel = platformCertificate.flatMap(PlatformCertificateExtensions.tcbLevel(of:))
        guard certifiedID == claims.platformID, certifiedLevel == claims.tcbLevel else {
            return EvidenceCheck(
                "platform-binding", passed: false,
                "the claimed platform id or TCB level differs from the platform certificate's")
        }
        guard claims.simulated else {
            return EvidenceCheck(
                "platform-binding", passed: false,
                "the claims say simulated = false, but a Cloister platform is simulated: its quotes always say true")
        }
        return EvidenceCheck(
            "platform-binding", passed: true,
            "platform \(hexEncoded(claims.platformID)) at TCB level \(claims.tcbLevel), as certified")
    }

    /// The TCB status of the claimed level by a list that a pinned root signed for the claimed platform. The list is
    /// checked against the pinned roots themselves, so a chain failure is reported once, by the chain check.
    private func tcbCheck(_ claims: CloisterClaims) -> (EvidenceCheck, TCBStatusList.Status?) {
        var problems: [String] = []
        for list in trust.tcbStatusLists {
            for root in trust.cloisterRoots {
                do {
                    let status = try cache?.statusList(list, root: root) ?? TCBStatusList(encoded: list, root: root)
                    guard status.platformID == claims.platformID else { continue }
                    let standing = status.status(of: claims.tcbLevel)
                    return (
                        EvidenceCheck(
                            "tcb-status", passed: true,
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
                "tcb-status", passed: false,
                "no TCB-status list signed by the platform root speaks for this platform"
                    + (problems.isEmpty ? "" : ": " + problems.joined(separator: "; "))),
            nil
        )
    }
}
