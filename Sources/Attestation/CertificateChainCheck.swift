import CloisterCrypto
import FoundationEssentials

/// The `trust-anchor` and `certificate-chain` checks every certificate-signed format makes: the leaf through the
/// intermediates to one of the format's pinned roots at an explicit time, with its CRLs; a chain verified earlier is
/// taken from the cache while `time` lies inside the window in which that verification holds.
struct CertificateChainCheck {
    let roots: [X509Certificate]
    let revocationLists: [CertificateRevocationList]
    /// Whether every certificate below the root needs a current CRL from its issuer (else CRLs given are checked).
    let requiresRevocationCheck: Bool
    /// Whether OpenSSL's strict RFC 5280 profile applies (Cloister's own PKI meets it; vendors' do not always).
    let enforcesStrictProfile: Bool
    /// The `trust-anchor` check's failure detail: no root is configured, and where to get one.
    let missingRoot: String
    /// Whether the chain the evidence carries must be exactly the verified path, leaf first and ending with the
    /// pinned root itself: then no byte of it goes unauthenticated (`carriedChainProblem`). Formats whose evidence may
    /// leave the root out keep the default.
    var requiresCarriedPath = false

    /// Appends the checks to `checks` and returns the verified path from the leaf to the anchor, or nil.
    func run(
        leaf: X509Certificate, intermediates: [X509Certificate], at time: Date, cache: EvidenceCache?,
        into checks: inout [EvidenceCheck]
    ) -> [X509Certificate]? {
        guard !roots.isEmpty else {
            checks.append(EvidenceCheck(.trustAnchor, passed: false, missingRoot))
            return nil
        }
        let key = cache.map { _ in
            EvidenceCache.chainKey(
                leaf: leaf, bundle: intermediates, anchors: roots, crls: revocationLists,
                requiresRevocationCheck: requiresRevocationCheck, enforcesStrictProfile: enforcesStrictProfile)
        }
        if let key, let path = cache?.chain(key, at: time) {
            checks.append(
                EvidenceCheck(
                    .certificateChain, passed: true, "chains to a pinned root (verified earlier, still valid)"))
            return path
        }
        let verifier = CertificateChainVerifier(
            trustAnchors: roots, requiresRevocationCheck: requiresRevocationCheck,
            enforcesStrictProfile: enforcesStrictProfile)
        var path: [X509Certificate]?
        checks.append(
            EvidenceCheck.run(
                .certificateChain,
                requiresRevocationCheck ? "chains to a pinned root, none revoked" : "chains to a pinned root"
            ) {
                let verified = try verifier.verify(
                    leaf: leaf, intermediates: intermediates, crls: revocationLists, at: time)
                if requiresCarriedPath, let problem = carriedChainProblem([leaf] + intermediates, verified) {
                    throw AttestationError(.badCertificate, problem)
                }
                path = verified
            })
        if let key, let path {
            cache?.storeChain(
                key, path: path,
                crls: revocationLists.filter { crl in path.contains { crl.isIssued(byNameOf: $0) } })
        }
        return path
    }
}

/// Why `chain`, the certificates evidence carries (leaf first), is not exactly `path`, the path verified from its
/// leaf to a pinned root; nil when it is. Intel's QVL refuses a PCK or TCB signing chain whose root is not the trusted
/// root (it compares the carried root's signature with the trusted root's, `STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED`, and
/// verifies the carried root's self-signature); Cloister also refuses certificates the path does not use and any
/// other order, so that every byte of the chain is authenticated.
func carriedChainProblem(_ chain: [X509Certificate], _ path: [X509Certificate]) -> String? {
    guard chain != path, let anchor = path.last else { return nil }
    let carried = chain[chain.count - 1]
    if carried != anchor {
        return "the chain ends with \(carried.description) (SHA-256 \(hexEncoded(carried.sha256Fingerprint))), not "
            + "with the pinned root \(anchor.description) (SHA-256 \(hexEncoded(anchor.sha256Fingerprint))) it "
            + "chains to"
    }
    return "the chain carries \(chain.map(\.description)), not exactly the path it verifies along "
        + "(\(path.map(\.description)), leaf first)"
}
