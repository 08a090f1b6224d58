internal import COpenSSL
public import FoundationEssentials

/// Verifies a certificate chain at an explicit time against pinned trust anchors, with CRLs.
///
/// Two independent passes must both accept the chain. OpenSSL builds the path from the leaf through the supplied
/// intermediates to a trust anchor and verifies it (signatures, validity, basic constraints, path length, CRLs;
/// optionally the strict RFC 5280 profile) at the given time, with no purpose. Cloister then checks the path
/// OpenSSL built, in this order, and reports the first failure by check and certificate:
///
/// 1. the path ends in one of the pinned anchors, compared by exact DER;
/// 2. every certificate's signature verifies with its issuer's key;
/// 3. every certificate, anchor included, is valid at the time: from `notValidBefore` through the whole second
///    `notValidAfter` names (RFC 5280 §4.1.2.5: the validity period is inclusive; times have one-second precision);
/// 4. every issuer is a CA (CA:TRUE) whose key usage, when present, includes keyCertSign;
/// 5. no issuer has more CA certificates below it than its path length constraint allows;
/// 6. the leaf's key usage, when present, includes `requiredLeafKeyUsage`;
/// 7. for every certificate below the anchor: the CRLs naming its issuer are signed by the issuer's key and current
///    at the time, and none lists its serial number; with `requiresRevocationCheck`, such a CRL must exist.
///
/// Only when all of these pass does OpenSSL's own verdict decide (critical extensions Cloister does not know, the
/// strict profile, CRL details). The verifier never reads the clock.
public struct CertificateChainVerifier: Sendable {
    /// Self-signed roots the chain must end in, compared by their exact DER.
    public let trustAnchors: [X509Certificate]
    /// Key usages the leaf must allow (when it has a key-usage extension; RFC 5280: none means any).
    public var requiredLeafKeyUsage: KeyUsage
    /// Whether every certificate below the anchor must be covered by a CRL from its issuer. When false, supplied
    /// CRLs are still checked for every certificate whose issuer they name.
    public var requiresRevocationCheck: Bool
    /// Whether OpenSSL also enforces its strict RFC 5280 profile (key identifiers present, CA key usage present,
    /// critical basic constraints). Cloister's own PKI meets it; real hardware evidence does not always (AWS Nitro
    /// leaf certificates carry no authority key identifier), so it is off by default.
    public var enforcesStrictProfile: Bool

    public init(
        trustAnchors: [X509Certificate],
        requiredLeafKeyUsage: KeyUsage = [.digitalSignature],
        requiresRevocationCheck: Bool = false,
        enforcesStrictProfile: Bool = false
    ) {
        self.trustAnchors = trustAnchors
        self.requiredLeafKeyUsage = requiredLeafKeyUsage
        self.requiresRevocationCheck = requiresRevocationCheck
        self.enforcesStrictProfile = enforcesStrictProfile
    }

    /// Verifies `leaf` through `intermediates` (any order) at `time`; returns the path from the leaf to the anchor.
    ///
    /// Throws `CertificateChainError` (code `certificate-rejected`) naming the failed check and certificate, or a
    /// `CryptoError` when `time` cannot be expressed or OpenSSL fails internally.
    @discardableResult
    public func verify(
        leaf: X509Certificate,
        intermediates: [X509Certificate] = [],
        crls: [CertificateRevocationList] = [],
        at time: Date
    ) throws -> [X509Certificate] {
        guard !trustAnchors.isEmpty else {
            throw CertificateChainError(.untrustedRoot, "no trust anchor is pinned", certificate: leaf.subject)
        }
        let evaluation = try OpenSSLEvaluation(
            leaf: leaf, intermediates: intermediates, crls: crls, anchors: trustAnchors,
            time: ASN1Conversions.epochSeconds(time), flags: openSSLFlags(hasCRLs: !crls.isEmpty),
            toleratesMissingCRLs: !requiresRevocationCheck)
        let path = evaluation.path
        try checkAnchor(path)
        try checkSignatures(path)
        try checkValidity(path, at: time)
        try checkIssuers(path)
        try checkPathLengths(path)
        try checkLeafKeyUsage(path[0])
        try checkRevocation(path, crls: crls, at: time)
        if let failure = evaluation.failure {
            throw failure
        }
        return path
    }

    /// Verifies `chain` (the leaf first, then intermediates in any order; an anchor among them is harmless) at
    /// `time`; returns the path from the leaf to the anchor.
    @discardableResult
    public func verify(
        _ chain: [X509Certificate],
        crls: [CertificateRevocationList] = [],
        at time: Date
    ) throws -> [X509Certificate] {
        guard let leaf = chain.first else {
            throw CertificateChainError(.malformed, "the chain holds no certificate")
        }
        return try verify(leaf: leaf, intermediates: Array(chain.dropFirst()), crls: crls, at: time)
    }

    private func openSSLFlags(hasCRLs: Bool) -> UInt {
        var flags: UInt = enforcesStrictProfile ? UInt(X509_V_FLAG_X509_STRICT) : 0
        if requiresRevocationCheck || hasCRLs {
            flags |= UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL)
        }
        return flags
    }

    // MARK: Cloister's checks, over the path OpenSSL built (leaf first)

    private func checkAnchor(_ path: [X509Certificate]) throws {
        let last = path[path.count - 1]
        guard !trustAnchors.contains(last) else { return }
        let reason: String
        if last.isSelfSigned {
            reason = "the chain ends at self-signed certificate \(last.subject), which is not a pinned trust anchor"
        } else if trustAnchors.contains(where: { $0.subject == last.issuer }) {
            reason =
                "certificate \(last.subject) names issuer \(last.issuer), but the pinned trust anchor of that name "
                + "did not issue it"
        } else {
            reason =
                "the chain ends at certificate \(last.subject), whose issuer \(last.issuer) is neither supplied nor "
                + "a pinned trust anchor"
        }
        throw CertificateChainError(.untrustedRoot, reason, certificate: last.subject)
    }

    private func checkSignatures(_ path: [X509Certificate]) throws {
        for (certificate, issuer) in zip(path, path.dropFirst()) where !certificate.isSignatureValid(issuer: issuer) {
            throw CertificateChainError(
                .signature,
                "signature of certificate \(certificate.subject) does not verify with the key of \(issuer.subject)",
                certificate: certificate.subject)
        }
    }

    private func checkValidity(_ path: [X509Certificate], at time: Date) throws {
        for certificate in path {
            if time < certificate.notValidBefore {
                throw CertificateChainError(
                    .notYetValid,
                    "certificate \(certificate.subject) is not valid before \(certificate.notValidBefore.rfc3339) "
                        + "(verification time \(time.rfc3339))",
                    certificate: certificate.subject)
            }
            if !certificate.isValid(at: time) {
                throw CertificateChainError(
                    .expired,
                    "certificate \(certificate.subject) expired at \(certificate.notValidAfter.rfc3339) "
                        + "(verification time \(time.rfc3339))",
                    certificate: certificate.subject)
            }
        }
    }

    private func checkIssuers(_ path: [X509Certificate]) throws {
        for (certificate, issuer) in zip(path, path.dropFirst()) {
            guard issuer.isCertificateAuthority else {
                throw CertificateChainError(
                    .notCertificateAuthority,
                    "certificate \(issuer.subject) issued \(certificate.subject) but is not a CA "
                        + "(its basic constraints lack CA:TRUE)",
                    certificate: issuer.subject)
            }
            if let usage = issuer.keyUsage, !usage.contains(.keyCertSign) {
                throw CertificateChainError(
                    .keyUsage,
                    "certificate \(issuer.subject) issued \(certificate.subject) but its key usage (\(usage)) "
                        + "lacks keyCertSign",
                    certificate: issuer.subject)
            }
        }
    }

    /// RFC 5280 §4.2.1.9: self-issued certificates below a CA do not count against its path length.
    private func checkPathLengths(_ path: [X509Certificate]) throws {
        for index in path.indices.dropFirst() {
            guard let limit = path[index].pathLengthConstraint else { continue }
            let below = path[1..<index].filter { !$0.isSelfIssued }.count
            if below > limit {
                throw CertificateChainError(
                    .pathLength,
                    "certificate \(path[index].subject) allows \(limit) CA certificate(s) below it, but \(below) "
                        + "follow in the chain",
                    certificate: path[index].subject)
            }
        }
    }

    private func checkLeafKeyUsage(_ leaf: X509Certificate) throws {
        guard let usage = leaf.keyUsage, !usage.contains(requiredLeafKeyUsage) else { return }
        throw CertificateChainError(
            .keyUsage,
            "leaf certificate \(leaf.subject) allows \(usage), not the required \(requiredLeafKeyUsage)",
            certificate: leaf.subject)
    }

    private func checkRevocation(_ path: [X509Certificate], crls: [CertificateRevocationList], at time: Date) throws {
        for (certificate, issuer) in zip(path, path.dropFirst()) {
            let named = crls.filter { $0.isIssued(byNameOf: issuer) }
            guard !named.isEmpty else {
                guard !requiresRevocationCheck else {
                    throw CertificateChainError(
                        .crlMissing,
                        "no CRL from \(issuer.subject) was supplied to check certificate \(certificate.subject)",
                        certificate: certificate.subject)
                }
                continue
            }
            let authentic = named.filter { $0.isSignatureValid(issuer: issuer) }
            guard !authentic.isEmpty else {
                throw CertificateChainError(
                    .crlSignature,
                    "the CRL naming \(issuer.subject) as issuer is not signed by its key (needed to check "
                        + "certificate \(certificate.subject))",
                    certificate: certificate.subject)
            }
            let current = authentic.filter { $0.isCurrent(at: time) }
            guard !current.isEmpty else {
                throw staleCRLError(authentic, issuer: issuer, certificate: certificate, at: time)
            }
            for crl in current {
                guard let entry = crl.entry(for: certificate) else { continue }
                let number = crl.crlNumber.map { " number \(hexEncoded($0))" } ?? ""
                throw CertificateChainError(
                    .revoked,
                    "certificate \(certificate.subject) (serial \(certificate.serialNumberHex)) was revoked at "
                        + "\(entry.revocationDate.rfc3339) by the CRL\(number) of \(issuer.subject)",
                    certificate: certificate.subject)
            }
        }
    }

    /// The error for CRLs that are all outside their validity window at `time`: the latest expired one if any,
    /// otherwise the earliest not yet valid.
    private func staleCRLError(
        _ crls: [CertificateRevocationList],
        issuer: X509Certificate,
        certificate: X509Certificate,
        at time: Date
    ) -> CertificateChainError {
        let checked = "(needed to check certificate \(certificate.subject); verification time \(time.rfc3339))"
        if let expired = crls.filter({ $0.thisUpdate <= time }).max(by: { $0.thisUpdate < $1.thisUpdate }),
            let nextUpdate = expired.nextUpdate
        {
            return CertificateChainError(
                .crlExpired, "the CRL of \(issuer.subject) expired at \(nextUpdate.rfc3339) \(checked)",
                certificate: certificate.subject)
        }
        let earliest = crls.min { $0.thisUpdate < $1.thisUpdate }?.thisUpdate ?? time
        return CertificateChainError(
            .crlNotYetValid, "the CRL of \(issuer.subject) is not valid before \(earliest.rfc3339) \(checked)",
            certificate: certificate.subject)
    }
}

/// One run of OpenSSL's `X509_verify_cert`: the path it built (leaf first; partial when it failed early) and,
/// when it refused the chain, that refusal as a chain error.
private struct OpenSSLEvaluation {
    let path: [X509Certificate]
    let failure: CertificateChainError?

    init(
        leaf: X509Certificate,
        intermediates: [X509Certificate],
        crls: [CertificateRevocationList],
        anchors: [X509Certificate],
        time: time_t,
        flags: UInt,
        toleratesMissingCRLs: Bool
    ) throws {
        guard let store = X509_STORE_new() else { throw CryptoError.openSSL("X509_STORE_new") }
        defer { X509_STORE_free(store) }
        for anchor in anchors {
            try requireOne(X509_STORE_add_cert(store, anchor.pointer), "X509_STORE_add_cert")
        }
        // The stacks borrow the certificates and CRLs (no reference taken); the Swift arrays keep them alive.
        guard let untrusted = cloister_sk_X509_new_null() else { throw CryptoError.openSSL("sk_X509_new_null") }
        defer { cloister_sk_X509_free(untrusted) }
        for certificate in intermediates {
            guard cloister_sk_X509_push(untrusted, certificate.pointer) > 0 else {
                throw CryptoError.openSSL("sk_X509_push")
            }
        }
        guard let revocationLists = cloister_sk_X509_CRL_new_null() else {
            throw CryptoError.openSSL("sk_X509_CRL_new_null")
        }
        defer { cloister_sk_X509_CRL_free(revocationLists) }
        for crl in crls {
            guard cloister_sk_X509_CRL_push(revocationLists, crl.pointer) > 0 else {
                throw CryptoError.openSSL("sk_X509_CRL_push")
            }
        }

        guard let context = X509_STORE_CTX_new() else { throw CryptoError.openSSL("X509_STORE_CTX_new") }
        defer { X509_STORE_CTX_free(context) }
        try requireOne(X509_STORE_CTX_init(context, store, leaf.pointer, untrusted), "X509_STORE_CTX_init")
        X509_STORE_CTX_set0_crls(context, revocationLists)
        let parameters = X509_STORE_CTX_get0_param(context)
        X509_VERIFY_PARAM_set_time(parameters, time)
        try requireOne(X509_VERIFY_PARAM_set_flags(parameters, flags), "X509_VERIFY_PARAM_set_flags")
        if toleratesMissingCRLs {
            X509_STORE_CTX_set_verify_cb(context) { accepted, context in
                amendedVerdict(accepted, context, toleratingMissingCRLs: true)
            }
        } else {
            X509_STORE_CTX_set_verify_cb(context) { accepted, context in
                amendedVerdict(accepted, context, toleratingMissingCRLs: false)
            }
        }
        let verified = X509_verify_cert(context) == 1
        ERR_clear_error()
        let built = try Self.builtPath(context)
        path = built.isEmpty ? [leaf] : built
        failure = verified ? nil : try Self.failure(context)
    }

    private static func builtPath(_ context: OpaquePointer) throws -> [X509Certificate] {
        guard let chain = X509_STORE_CTX_get0_chain(context) else { return [] }
        return try (0..<cloister_sk_X509_num(chain)).map { index in
            let certificate = try requireNonNull(cloister_sk_X509_value(chain, index), "sk_X509_value")
            try requireOne(X509_up_ref(certificate), "X509_up_ref")
            return try X509Certificate(adopting: certificate)
        }
    }

    /// OpenSSL's error as a chain error naming the certificate it was checking.
    private static func failure(_ context: OpaquePointer) throws -> CertificateChainError {
        let code = X509_STORE_CTX_get_error(context)
        let text = String(cString: X509_verify_cert_error_string(Int(code)))
        var subject: DistinguishedName?
        if let current = X509_STORE_CTX_get_current_cert(context) {
            subject = try DistinguishedName(reading: X509_get_subject_name(current))
        }
        let reason = "OpenSSL refused " + (subject.map { "certificate \($0)" } ?? "the chain") + ": \(text)"
        let check: CertificateChainError.Check =
            switch code {
            case X509_V_ERR_CERT_SIGNATURE_FAILURE, X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE: .signature
            case X509_V_ERR_CERT_HAS_EXPIRED: .expired
            case X509_V_ERR_CERT_NOT_YET_VALID: .notYetValid
            case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
                X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
                X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, X509_V_ERR_CERT_UNTRUSTED:
                .untrustedRoot
            case X509_V_ERR_INVALID_CA: .notCertificateAuthority
            case X509_V_ERR_KEYUSAGE_NO_CERTSIGN: .keyUsage
            case X509_V_ERR_PATH_LENGTH_EXCEEDED: .pathLength
            case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION: .unhandledCriticalExtension
            case X509_V_ERR_CERT_REVOKED: .revoked
            case X509_V_ERR_UNABLE_TO_GET_CRL, X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER: .crlMissing
            case X509_V_ERR_CRL_HAS_EXPIRED: .crlExpired
            case X509_V_ERR_CRL_NOT_YET_VALID: .crlNotYetValid
            case X509_V_ERR_CRL_SIGNATURE_FAILURE, X509_V_ERR_KEYUSAGE_NO_CRL_SIGN: .crlSignature
            default: .malformed
            }
        return CertificateChainError(check, reason, certificate: subject)
    }
}

/// OpenSSL's verdict on one certificate, amended in two ways. A certificate verified at exactly its notAfter second
/// is valid (RFC 5280 §4.1.2.5: the validity period is inclusive; OpenSSL 3.0 counts that second as expired). With
/// `toleratingMissingCRLs`, CRLs are checked where supplied, and a certificate whose issuer has none is not an error.
private func amendedVerdict(_ accepted: Int32, _ context: OpaquePointer?, toleratingMissingCRLs: Bool) -> Int32 {
    guard accepted == 0, let context else { return accepted }
    switch X509_STORE_CTX_get_error(context) {
    case X509_V_ERR_UNABLE_TO_GET_CRL:
        return toleratingMissingCRLs ? 1 : 0
    case X509_V_ERR_CERT_HAS_EXPIRED:
        // OpenSSL found notAfter <= the check time; notAfter > the second before it means they are equal.
        guard let certificate = X509_STORE_CTX_get_current_cert(context) else { return 0 }
        var secondBefore = X509_VERIFY_PARAM_get_time(X509_STORE_CTX_get0_param(context)) - 1
        return X509_cmp_time(X509_get0_notAfter(certificate), &secondBefore) > 0 ? 1 : 0
    default:
        return 0
    }
}
