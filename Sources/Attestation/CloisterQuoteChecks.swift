import CloisterCBOR
public import CloisterCrypto
public import FoundationEssentials

/// One named check of an appraisal and its outcome.
public struct EvidenceCheck: Sendable, Hashable, Encodable {
    public let name: String
    public let passed: Bool
    /// Why it failed, or what was confirmed.
    public let detail: String

    public init(_ name: String, passed: Bool, _ detail: String) {
        self.name = name
        self.passed = passed
        self.detail = detail
    }
}

/// The cryptographic checks of a Cloister quote against one platform's published trust material: every check runs
/// and is reported, not only the first that fails.
///
/// Checks: `decode`; `signature` (COSE_Sign1 with the leaf key, over the bytes as received); `certificate-chain`
/// (leaf -> CA bundle -> a pinned root at `time`, strict profile, every certificate covered by a current CRL of its
/// issuer and not revoked); `platform-binding` (the platform id and TCB level the quote claims are the ones its
/// platform certificate states); `tcb-status` (the vendor's signed TCB-status list says the level is up to date);
/// `nonce` (when one is expected). Policy decisions (simulated or debug evidence, reference values) are the
/// verifier's, not these checks'.
public struct CloisterQuoteChecks: Sendable {
    public let trustAnchors: [X509Certificate]
    public let revocationLists: [CertificateRevocationList]
    /// The signed TCB-status list, if the platform published one.
    public let tcbStatusList: [UInt8]?

    public init(
        trustAnchors: [X509Certificate], revocationLists: [CertificateRevocationList], tcbStatusList: [UInt8]?
    ) {
        self.trustAnchors = trustAnchors
        self.revocationLists = revocationLists
        self.tcbStatusList = tcbStatusList
    }

    /// Runs every check on `evidence` at `time`; returns the decoded document (nil when it does not decode).
    public func run(
        _ evidence: [UInt8], expectedNonce: [UInt8]?, at time: Date
    ) -> (document: SignedAttestationDocument?, checks: [EvidenceCheck]) {
        let signed: SignedAttestationDocument
        do {
            signed = try SignedAttestationDocument(encoded: evidence)
        } catch {
            return (nil, [EvidenceCheck("decode", passed: false, error.reason)])
        }
        var checks = [EvidenceCheck("decode", passed: true, "COSE_Sign1 \(signed.message.algorithm.name) document")]
        checks.append(
            outcome("signature", "signed by \(signed.certificate.subject)") { try signed.verifySignature() })
        let verifier = CertificateChainVerifier(
            trustAnchors: trustAnchors, requiresRevocationCheck: true, enforcesStrictProfile: true)
        var path: [X509Certificate] = []
        checks.append(
            outcome("certificate-chain", "chains to the pinned root, none revoked") {
                path = try signed.verifyCertificates(with: verifier, crls: revocationLists, at: time)
            })
        guard let claims = signed.document.cloister else {
            checks.append(EvidenceCheck("platform-binding", passed: false, "the document has no cloister claims"))
            return (signed, checks)
        }
        let platformCertificate = path.count == 3 ? path[1] : signed.caBundle.last
        let statedID = platformCertificate.flatMap(PlatformCertificateExtensions.platformID(of:))
        let statedLevel = platformCertificate.flatMap(PlatformCertificateExtensions.tcbLevel(of:))
        checks.append(
            EvidenceCheck(
                "platform-binding", passed: statedID == claims.platformID && statedLevel == claims.tcbLevel,
                statedID == claims.platformID && statedLevel == claims.tcbLevel
                    ? "platform \(hexEncoded(claims.platformID)) at TCB level \(claims.tcbLevel), as certified"
                    : "the claimed platform id or TCB level differs from the platform certificate's"))
        if let tcbStatusList, let root = trustAnchors.first {
            checks.append(tcbCheck(tcbStatusList, root: root, claims: claims))
        }
        if let expectedNonce {
            let matches = signed.document.nonce.map { constantTimeEquals($0, expectedNonce) } ?? false
            checks.append(
                EvidenceCheck("nonce", passed: matches, matches ? "the expected nonce" : "the nonce differs or is absent"))
        }
        return (signed, checks)
    }

    private func tcbCheck(_ list: [UInt8], root: X509Certificate, claims: CloisterClaims) -> EvidenceCheck {
        do {
            let status = try TCBStatusList(encoded: list, root: root)
            guard status.platformID == claims.platformID else {
                return EvidenceCheck("tcb-status", passed: false, "the TCB-status list is for another platform")
            }
            let standing = status.status(of: claims.tcbLevel)
            return EvidenceCheck(
                "tcb-status", passed: standing == .upToDate,
                "TCB level \(claims.tcbLevel) is \(standing.rawValue) (latest \(status.latestLevel))")
        } catch {
            return EvidenceCheck("tcb-status", passed: false, error.reason)
        }
    }

    private func outcome(_ name: String, _ success: String, _ body: () throws -> Void) -> EvidenceCheck {
        do {
            try body()
            return EvidenceCheck(name, passed: true, success)
        } catch let error as any CodedError {
            return EvidenceCheck(name, passed: false, error.reason)
        } catch {
            return EvidenceCheck(name, passed: false, "\(error)")
        }
    }
}
