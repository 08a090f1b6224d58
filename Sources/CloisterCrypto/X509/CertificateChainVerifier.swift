internal import COpenSSL
public import FoundationEssentials

/// Why a certificate chain was rejected: the check that failed, the certificate it failed on, and a reason.
public struct CertificateChainError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The chain checks, each a stable name for programs.
    public enum Check: String, Sendable, Hashable, CaseIterable {
        case malformed = "malformed"
        case untrustedRoot = "untrusted-root"
        case signature = "signature"
        case expired = "expired"
        case notYetValid = "not-yet-valid"
        case notCertificateAuthority = "not-certificate-authority"
        case keyUsage = "key-usage"
        case pathLength = "path-length"
        case revoked = "revoked"
        case crlMissing = "crl-missing"
        case crlExpired = "crl-expired"
        case crlNotYetValid = "crl-not-yet-valid"
        case crlSignature = "crl-signature"
    }

    public let check: Check
    public let reason: String
    /// Subject of the certificate the check failed on, when there is one.
    public let certificate: DistinguishedName?

    public init(_ check: Check, _ reason: String, certificate: DistinguishedName? = nil) {
        self.check = check
        self.reason = reason
        self.certificate = certificate
    }

    public var description: String { "certificate chain rejected (\(check.rawValue)): \(reason)" }
}

/// Verifies a certificate chain at an explicit time against pinned trust anchors, with CRLs.
///
/// OpenSSL builds and checks the path (signatures, validity, basic constraints, CA key usage, path length, CRLs)
/// (optionally in strict RFC 5280 mode); Cloister then checks on top that the root of the built path is exactly a pinned anchor and that
/// the leaf allows the required key usage, and names every failure by check and certificate.
public struct CertificateChainVerifier: Sendable {
    /// Self-signed roots the chain must end in, compared by their exact DER.
    public let trustAnchors: [X509Certificate]
    /// Key usages the leaf must allow.
    public var requiredLeafKeyUsage: KeyUsage
    /// Whether every CA level must be covered by a CRL (then a missing CRL rejects the chain).
    public var requiresRevocationCheck: Bool
    /// Whether to also enforce OpenSSL's strict RFC 5280 profile checks (key identifiers present, CA key usage
    /// present, critical basic constraints). Cloister's own PKI meets them; real hardware evidence does not
    /// always (AWS Nitro leaf certificates carry no authority key identifier), so it is off by default.
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

    /// Verifies `leaf` through `intermediates` at `time`; returns the path from leaf to anchor.
    /// CRLs, when given (or required), are checked for every certificate of the path.
    @discardableResult
    public func verify(
        leaf: X509Certificate,
        intermediates: [X509Certificate] = [],
        crls: [CertificateRevocationList] = [],
        at time: Date
    ) throws -> [X509Certificate] {
        guard !trustAnchors.isEmpty else {
            throw CertificateChainError(.untrustedRoot, "no trust anchor is configured")
        }
        guard let store = X509_STORE_new() else { throw CryptoError.openSSL("X509_STORE_new") }
        defer { X509_STORE_free(store) }
        for anchor in trustAnchors {
            try requireOne(X509_STORE_add_cert(store, anchor.pointer), "X509_STORE_add_cert")
        }
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
        X509_VERIFY_PARAM_set_time(parameters, time_t(time.timeIntervalSince1970.rounded(.down)))
        var flags: UInt = enforcesStrictProfile ? UInt(X509_V_FLAG_X509_STRICT) : 0
        if requiresRevocationCheck || !crls.isEmpty {
            flags |= UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL)
        }
        try requireOne(X509_VERIFY_PARAM_set_flags(parameters, flags), "X509_VERIFY_PARAM_set_flags")

        guard X509_verify_cert(context) == 1 else {
            ERR_clear_error()
            throw failure(context, at: time)
        }
        let path = try builtPath(context)
        guard let root = path.last, trustAnchors.contains(root) else {
            throw CertificateChainError(.untrustedRoot, "the chain does not end in a pinned trust anchor")
        }
        try checkLeafKeyUsage(leaf)
        return path
    }

    private func builtPath(_ context: OpaquePointer) throws -> [X509Certificate] {
        guard let chain = X509_STORE_CTX_get0_chain(context) else {
            throw CryptoError.openSSL("X509_STORE_CTX_get0_chain")
        }
        return try (0..<cloister_sk_X509_num(chain)).map { index in
            let certificate = try requireNonNull(cloister_sk_X509_value(chain, index), "sk_X509_value")
            try requireOne(X509_up_ref(certificate), "X509_up_ref")
            return try X509Certificate(adopting: certificate)
        }
    }

    private func checkLeafKeyUsage(_ leaf: X509Certificate) throws {
        // RFC 5280 §4.2.1.3: without the extension every usage is allowed.
        guard let usage = leaf.keyUsage else { return }
        guard usage.contains(requiredLeafKeyUsage) else {
            throw CertificateChainError(
                .keyUsage,
                "certificate \(leaf.subject) does not allow \(requiredLeafKeyUsage.configurationValue)",
                certificate: leaf.subject)
        }
    }

    /// Maps OpenSSL's verification error to the check that failed, naming the certificate and times.
    private func failure(_ context: OpaquePointer, at time: Date) -> CertificateChainError {
        let code = X509_STORE_CTX_get_error(context)
        let openSSLText = String(cString: X509_verify_cert_error_string(Int(code)))
        var current: X509Certificate?
        if let pointer = X509_STORE_CTX_get_current_cert(context), X509_up_ref(pointer) == 1 {
            current = try? X509Certificate(adopting: pointer)
        }
        let subject = current?.subject
        let window = current.map { " (valid \($0.notValidBefore.rfc3339) to \($0.notValidAfter.rfc3339))" } ?? ""
        let name = subject.map { "certificate \($0)" } ?? "a certificate of the chain"
        let at = time.rfc3339
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return CertificateChainError(.expired, "\(name) expired before \(at)\(window)", certificate: subject)
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return CertificateChainError(
                .notYetValid, "\(name) is not yet valid at \(at)\(window)", certificate: subject)
        case X509_V_ERR_CERT_SIGNATURE_FAILURE:
            return CertificateChainError(.signature, "signature of \(name) does not verify", certificate: subject)
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
            X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
            return CertificateChainError(
                .untrustedRoot, "\(name) does not chain to a pinned trust anchor (\(openSSLText))", certificate: subject
            )
        case X509_V_ERR_INVALID_CA where current?.isCertificateAuthority == true:
            // OpenSSL reports a CA whose key usage lacks keyCertSign as an invalid CA; name the real cause.
            return CertificateChainError(
                .keyUsage, "\(name) issues certificates without keyCertSign", certificate: subject)
        case X509_V_ERR_INVALID_CA:
            return CertificateChainError(
                .notCertificateAuthority, "\(name) issues certificates but is not a CA (\(openSSLText))",
                certificate: subject)
        case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
            return CertificateChainError(
                .keyUsage, "\(name) issues certificates without keyCertSign", certificate: subject)
        case X509_V_ERR_PATH_LENGTH_EXCEEDED:
            return CertificateChainError(
                .pathLength, "path length constraint exceeded at \(name)", certificate: subject)
        case X509_V_ERR_CERT_REVOKED:
            return CertificateChainError(.revoked, "\(name) is revoked", certificate: subject)
        case X509_V_ERR_UNABLE_TO_GET_CRL, X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
            return CertificateChainError(
                .crlMissing, "no usable CRL covers \(name) (\(openSSLText))", certificate: subject)
        case X509_V_ERR_CRL_HAS_EXPIRED:
            return CertificateChainError(
                .crlExpired, "the CRL for \(name) is past its nextUpdate at \(at)", certificate: subject)
        case X509_V_ERR_CRL_NOT_YET_VALID:
            return CertificateChainError(
                .crlNotYetValid, "the CRL for \(name) is not yet valid at \(at)", certificate: subject)
        case X509_V_ERR_CRL_SIGNATURE_FAILURE, X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
            return CertificateChainError(
                .crlSignature, "the CRL for \(name) is not signed by its issuer (\(openSSLText))", certificate: subject)
        default:
            return CertificateChainError(.malformed, "\(name): \(openSSLText)", certificate: subject)
        }
    }
}
