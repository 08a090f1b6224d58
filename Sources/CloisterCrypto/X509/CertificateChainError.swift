public import CloisterErrors

extension ErrorCode where Domain == CryptoError {
    /// A certificate chain failed verification (the error is a `CertificateChainError` naming the check).
    public static let certificateRejected = Self("certificate-rejected")
}

/// Why a certificate chain was rejected: the check that failed, the certificate it failed on, and a reason that
/// names both (e.g. "certificate CN=Platform,O=Cloister expired at 2023-09-18T17:37:12Z").
///
/// Its code is always `CryptoError.Code.certificateRejected`, so layers that map codes to statuses or exit codes
/// treat it like any `CryptoError`; verifiers that report each check read `check`.
public struct CertificateChainError: CodedError {
    public typealias Domain = CryptoError

    /// The checks a chain must pass, each with a stable name for programs.
    public enum Check: String, Sendable, Hashable, CaseIterable {
        /// OpenSSL refused a certificate or CRL for a reason none of the other checks covers (its text explains).
        case malformed = "malformed"
        /// The chain does not end in one of the pinned trust anchors.
        case untrustedRoot = "untrusted-root"
        /// A certificate's signature does not verify with its issuer's key.
        case signature = "signature"
        /// A certificate's validity ended at or before the verification time.
        case expired = "expired"
        /// A certificate's validity starts after the verification time.
        case notYetValid = "not-yet-valid"
        /// A certificate that issues another is not a CA (basic constraints lack CA:TRUE).
        case notCertificateAuthority = "not-certificate-authority"
        /// An issuer lacks keyCertSign, or the leaf lacks a key usage the verifier requires.
        case keyUsage = "key-usage"
        /// More CA certificates follow an issuer than its path length constraint allows.
        case pathLength = "path-length"
        /// A certificate carries a critical extension the verifier does not understand.
        case unhandledCriticalExtension = "unhandled-critical-extension"
        /// A CRL from the certificate's issuer lists its serial number.
        case revoked = "revoked"
        /// Revocation checking is required and no CRL from the certificate's issuer was supplied.
        case crlMissing = "crl-missing"
        /// The only CRLs from the issuer are past their nextUpdate at the verification time.
        case crlExpired = "crl-expired"
        /// The only CRLs from the issuer have a thisUpdate after the verification time.
        case crlNotYetValid = "crl-not-yet-valid"
        /// A CRL naming the issuer is not signed by the issuer's key.
        case crlSignature = "crl-signature"
    }

    public let check: Check
    public let reason: String
    /// Subject of the certificate the check failed on, when there is one.
    public let certificate: DistinguishedName?
    public let file: String
    public let line: Int

    public var code: CryptoError.Code { .certificateRejected }

    public init(
        _ check: Check,
        _ reason: String,
        certificate: DistinguishedName? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.check = check
        self.reason = reason
        self.certificate = certificate
        self.file = file
        self.line = line
    }

    public var description: String { "\(code) (\(check.rawValue)): \(reason)" }

    public static func == (lhs: CertificateChainError, rhs: CertificateChainError) -> Bool {
        lhs.check == rhs.check && lhs.reason == rhs.reason && lhs.certificate == rhs.certificate
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(check)
        hasher.combine(reason)
        hasher.combine(certificate)
    }
}
