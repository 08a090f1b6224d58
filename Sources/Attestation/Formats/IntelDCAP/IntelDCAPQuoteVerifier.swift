public import CloisterCrypto
public import FoundationEssentials

extension CheckName {
    /// The PCK certificate is an end entity signed as Intel signs (ECDSA, SHA-256) and carries Intel's SGX extensions
    /// (FMSPC, PCE-ID, TCB component SVNs, PCESVN, CPUSVN).
    public static let pckExtensions = CheckName("pck-extensions", aspect: .hardware, isCryptographic: true)
    /// Collateral (TCB info, QE identity, CRLs) for the quote's TEE and FMSPC is configured and reads.
    public static let collateral = CheckName("collateral", aspect: .hardware)
}

/// Verifies Intel DCAP quotes of one TEE (SGX or TDX) as Intel's QVL and dcap-qvl do, at an explicit time, every
/// check named and none skipped:
///
/// - the quote's own signatures: `signature` (by the attestation key), `qe-report-signature` (the QE report by the
///   PCK key), `attestation-key-binding` (the QE report's data binds the attestation key);
/// - `trust-anchor` and `certificate-chain`: the PCK certificate through its CA (Platform or Processor) to a pinned
///   root, with the collateral's root CA CRL and PCK CRL required for every certificate below the root;
/// - `pck-extensions`: the PCK certificate's SGX extensions read;
/// - `collateral`: collateral for this TEE and FMSPC among the configured items (`TrustStore.FormatTrust.collateral`,
///   `DCAPCollateral` JSON), then its own checks (`tcb-info-signature`, `qe-identity-signature`, `revocation-lists`);
/// - what it says: `collateral-current`, `tcb-info-platform`, `qe-identity`, `tcb-level`, and for TDX `tdx-module`.
///
/// The claims carry the combined TCB status and its advisories. Evidence whose chain reaches a Cloister platform is
/// simulated (never mistaken for Intel's); a root that is not Intel's SGX Root CA draws a warning.
public struct IntelDCAPQuoteVerifier: FormatVerifier {
    public let tee: IntelDCAPQuoteHeader.TEE

    public init(tee: IntelDCAPQuoteHeader.TEE) {
        self.tee = tee
    }

    public var format: EvidenceFormat { tee == .sgx ? .sgx : .tdx }

    public var trustAnchorAdvice: String {
        "no Intel SGX Root CA is configured: download it from \(TrustStore.intelSGXRootCAURL) (DER SHA-256 "
            + "\(TrustStore.intelSGXRootCAFingerprint)) and pass it with --trust-anchor, with the quote's collateral "
            + "(--collateral)"
    }

    public func read(_ bytes: [UInt8], cache: EvidenceCache?) -> EvidenceReading<IntelDCAPQuote> {
        switch IntelDCAPQuoteHeader.read(bytes) {
        case .notThisFormat: return .notThisFormat
        case .malformed(let error): return .malformed(error)
        case .read(let header, let summary):
            guard header.tee == tee else { return .notThisFormat }
            do {
                return .read(try IntelDCAPQuote(bytes, header: header), summary: summary)
            } catch {
                return .malformed(error)
            }
        }
    }

    public func verify(
        _ quote: IntelDCAPQuote, trust: TrustStore, cache: EvidenceCache?, at time: Date
    ) -> FormatVerification {
        let anchors = trust[format]
        var checks: [EvidenceCheck]
        let chain: [X509Certificate]
        do {
            chain =
                try cache?.certificates(pem: quote.pckCertificateChain)
                ?? X509Certificate.certificates(fromChainPEM: quote.pckCertificateChain)
            checks = quote.signatureChecks(pckCertificate: chain[0], cache: cache)
        } catch {
            chain = []
            checks = [
                EvidenceCheck(
                    .certificateChain, passed: false,
                    "the quote's PCK certificate chain does not read: \((error as? CryptoError)?.reason ?? "\(error)")")
            ]
        }
        let extensions = chain.first.map { pck in
            Result { () throws(AttestationError) in
                if let problem = intelProfileProblem(chain, leaf: "PCK certificate") {
                    throw AttestationError(.badCertificate, problem)
                }
                guard let cache else { return try PCKCertificateExtensions(of: pck) }
                return try cache.reading(pck.sha256Fingerprint) { () throws(AttestationError) in
                    try PCKCertificateExtensions(of: pck)
                }
            }
        }
        if let extensions {
            switch extensions {
            case .success(let read):
                checks.append(
                    EvidenceCheck(
                        .pckExtensions, passed: true,
                        "FMSPC \(hexEncoded(read.fmspc)), PCE-ID \(hexEncoded(read.pceID)), PCESVN \(read.pceSVN)"))
            case .failure(let error):
                checks.append(EvidenceCheck(.pckExtensions, passed: false, error.reason))
            }
        }
        let pck = try? extensions?.get()
        var collateral: VerifiedDCAPCollateral?
        if let pck {
            collateral = self.collateral(for: pck, anchors: anchors, cache: cache, at: time, into: &checks)
        }
        var path: [X509Certificate]?
        if let leaf = chain.first {
            path = CertificateChainCheck(
                roots: anchors.roots,
                revocationLists: (collateral.map { [$0.collateral.rootCACRL, $0.collateral.pckCRL] } ?? [])
                    + anchors.revocationLists,
                requiresRevocationCheck: true, enforcesStrictProfile: false, missingRoot: trustAnchorAdvice,
                requiresCarriedPath: true
            ).run(leaf: leaf, intermediates: Array(chain.dropFirst()), at: time, cache: cache, into: &checks)
        }
        var evaluation: DCAPTCBEvaluation?
        if let pck, let collateral {
            let (tcbChecks, tcb) = quote.tcbChecks(
                pck: pck, tcbInfo: collateral.tcbInfo, qeIdentity: collateral.qeIdentity, at: time)
            checks += tcbChecks
            evaluation = tcb
        }
        var warnings: [String] = []
        let simulated = trust.isCloisterRooted(chain + (path ?? []))
        if let anchor = path?.last, !simulated,
            hexEncoded(anchor.sha256Fingerprint) != TrustStore.intelSGXRootCAFingerprint
        {
            warnings.append(
                "the Intel trust anchor \(anchor.subject) (SHA-256 \(hexEncoded(anchor.sha256Fingerprint))) is not "
                    + "Intel's SGX Root CA (\(TrustStore.intelSGXRootCAFingerprint))")
        }
        let platform = DCAPPlatformClaims(
            fmspc: pck.map { hexEncoded($0.fmspc) } ?? "", pceID: pck.map { hexEncoded($0.pceID) } ?? "",
            tcbEvaluationDataNumber: collateral?.tcbInfo.tcbEvaluationDataNumber)
        return FormatVerification(
            checks: checks, claims: claims(quote, platform: platform, evaluation: evaluation, simulated: simulated),
            warnings: warnings)
    }

    /// The configured collateral for this TEE and the PCK's FMSPC, verified (its `collateral`, `tcb-info-signature`,
    /// `qe-identity-signature` and `revocation-lists` checks appended), or nil with the `collateral` check failed.
    private func collateral(
        for pck: PCKCertificateExtensions, anchors: TrustStore.FormatTrust, cache: EvidenceCache?, at time: Date,
        into checks: inout [EvidenceCheck]
    ) -> VerifiedDCAPCollateral? {
        var problems: [String] = []
        for (index, item) in anchors.collateral.enumerated() {
            do throws(AttestationError) {
                let read = try VerifiedDCAPCollateral.read(
                    item, index: index, roots: anchors.roots, cache: cache, at: time)
                guard read.tcbInfo.id == tee.description, read.tcbInfo.fmspc == pck.fmspc else { continue }
                checks.append(
                    EvidenceCheck(
                        .collateral, passed: true,
                        "\(tee) collateral for FMSPC \(hexEncoded(pck.fmspc)) (TCB evaluation data number "
                            + "\(read.tcbInfo.tcbEvaluationDataNumber))"))
                checks += read.checks
                return read
            } catch {
                problems.append(error.reason)
            }
        }
        checks.append(
            EvidenceCheck(
                .collateral, passed: false,
                "no \(tee) collateral for FMSPC \(hexEncoded(pck.fmspc)) among the \(anchors.collateral.count) "
                    + "configured (give the quote's collateral with --collateral, or a PCCS with --pccs)"
                    + (problems.isEmpty ? "" : ": " + problems.joined(separator: "; "))))
        return nil
    }

    private func claims(
        _ quote: IntelDCAPQuote, platform: DCAPPlatformClaims, evaluation: DCAPTCBEvaluation?, simulated: Bool
    ) -> VerifiedClaims {
        switch quote.body {
        case .sgx(let body):
            return VerifiedClaims(
                format: format, timestamp: nil, pcrs: [:], measurement: hexEncoded(body.mrEnclave),
                signer: hexEncoded(body.mrSigner), nonce: nil, userData: nil, publicKey: nil,
                reportData: hexEncoded(body.reportData), debug: body.isDebug,
                simulated: simulated, productID: body.isvProdID, svn: body.isvSVN, tcbStatus: evaluation?.status,
                advisoryIDs: evaluation?.advisoryIDs ?? [], details: SGXQuoteClaims(body, platform: platform))
        case .td(let body):
            return VerifiedClaims(
                format: format, timestamp: nil, pcrs: [:], measurement: hexEncoded(body.mrTD), signer: nil,
                nonce: nil, userData: nil, publicKey: nil, reportData: hexEncoded(body.reportData), debug: body.isDebug,
                simulated: simulated, productID: nil,
                svn: nil, tcbStatus: evaluation?.status, advisoryIDs: evaluation?.advisoryIDs ?? [],
                details: TDXQuoteClaims(body, platform: platform))
        }
    }
}

/// Collateral read and checked against the pinned roots: kept in the evidence cache, while its checks hold, so that
/// a platform's next quote costs no JSON parsing and no collateral signature.
struct VerifiedDCAPCollateral: Sendable {
    let collateral: DCAPCollateral
    let tcbInfo: DCAPTCBInfo
    let qeIdentity: DCAPQEIdentity
    /// `tcb-info-signature`, `qe-identity-signature`, `revocation-lists`.
    let checks: [EvidenceCheck]

    /// Reads configured item `index`, from the cache when it was verified under the same roots and `time` lies in
    /// the window of that verification. Throws when it does not read.
    static func read(
        _ json: [UInt8], index: Int, roots: [X509Certificate], cache: EvidenceCache?, at time: Date
    ) throws(AttestationError) -> VerifiedDCAPCollateral {
        let key = EvidenceCache.Key(bytes: roots.flatMap(\.sha256Fingerprint) + DigestAlgorithm.sha256.hash(json))
        if let known = cache?.verifiedItem(key, as: VerifiedDCAPCollateral.self, at: time) { return known }
        let collateral = try DCAPCollateral(json: json, source: "item \(index + 1)")
        let read = VerifiedDCAPCollateral(
            collateral: collateral, tcbInfo: try DCAPTCBInfo(json: collateral.tcbInfo),
            qeIdentity: try DCAPQEIdentity(json: collateral.qeIdentity),
            checks: collateral.checks(roots: roots, at: time))
        if let cache, read.checks.allSatisfy(\.passed) {
            let window = collateral.verificationWindow
            cache.storeVerifiedItem(key, read, validFrom: window.from, validUntil: window.until)
        }
        return read
    }
}

extension TrustStore {
    /// The SHA-256 fingerprint (of the DER) of Intel's SGX Root CA, which roots every PCK and TCB signing chain.
    public static let intelSGXRootCAFingerprint = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"
    /// Where Intel publishes it.
    public static let intelSGXRootCAURL =
        "https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem"
}
