public import CloisterCrypto
public import FoundationEssentials

/// What verifies a DCAP quote besides the quote: Intel's CRLs, TCB info and QE identity with the chains that sign them,
/// as a JSON object with dcap-qvl's `QuoteCollateralV3` field names (Intel's PCCS serves the same items):
/// `pck_crl_issuer_chain`, `tcb_info_issuer_chain`, `qe_identity_issuer_chain` (PEM chains), `root_ca_crl` and
/// `pck_crl` (DER, hex), `tcb_info` and `qe_identity` (the JSON text exactly as Intel signed it) and
/// `tcb_info_signature`, `qe_identity_signature` (ECDSA P-256, r ‖ s, hex). Reading checks only the shape; the
/// signatures, chains and dates are `checks(root:at:)`.
public struct DCAPCollateral: Sendable {
    public let pckCRLIssuerChain: [X509Certificate]
    public let rootCACRL: CertificateRevocationList
    public let pckCRL: CertificateRevocationList
    public let tcbInfoIssuerChain: [X509Certificate]
    /// The TCB info JSON, byte for byte as signed.
    public let tcbInfo: [UInt8]
    public let tcbInfoSignature: [UInt8]
    public let qeIdentityIssuerChain: [X509Certificate]
    /// The QE identity JSON, byte for byte as signed.
    public let qeIdentity: [UInt8]
    public let qeIdentitySignature: [UInt8]

    private struct Fields: Decodable {
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let pck_crl_issuer_chain, root_ca_crl, pck_crl, tcb_info_issuer_chain, tcb_info, tcb_info_signature: String
        // swift-format-ignore: AlwaysUseLowerCamelCase
        let qe_identity_issuer_chain, qe_identity, qe_identity_signature: String
    }

    /// Reads collateral from its JSON; `source` (a file name) and the field at fault are named in every refusal.
    public init(json: [UInt8], source: String) throws(AttestationError) {
        func refusal(_ problem: String) -> AttestationError {
            AttestationError(.malformedEvidence, "the DCAP collateral \(source): \(problem)")
        }
        let fields: Fields
        do {
            fields = try JSONDecoder().decode(Fields.self, from: Data(json))
        } catch DecodingError.keyNotFound(let key, _) {
            throw refusal("field \(key.stringValue) is missing")
        } catch {
            throw refusal("not a JSON object of the nine collateral fields, each a string")
        }
        func chain(_ pem: String, _ field: String) throws(AttestationError) -> [X509Certificate] {
            do {
                return try X509Certificate.certificates(fromChainPEM: Array(pem.utf8))
            } catch {
                throw refusal(
                    "field \(field) is not a PEM chain (the signing certificate, then its issuers): "
                        + ((error as? CryptoError)?.reason ?? "\(error)"))
            }
        }
        func crl(_ hex: String, _ field: String) throws(AttestationError) -> CertificateRevocationList {
            guard let der = hexDecoded(hex), let list = try? CertificateRevocationList(derRepresentation: der) else {
                throw refusal("field \(field) is not a DER CRL in hex")
            }
            return list
        }
        func signature(_ hex: String, _ field: String) throws(AttestationError) -> [UInt8] {
            guard let bytes = hexDecoded(hex), bytes.count == 64 else {
                throw refusal("field \(field) is not a 64-byte ECDSA P-256 signature (r ‖ s) in hex")
            }
            return bytes
        }
        pckCRLIssuerChain = try chain(fields.pck_crl_issuer_chain, "pck_crl_issuer_chain")
        rootCACRL = try crl(fields.root_ca_crl, "root_ca_crl")
        pckCRL = try crl(fields.pck_crl, "pck_crl")
        tcbInfoIssuerChain = try chain(fields.tcb_info_issuer_chain, "tcb_info_issuer_chain")
        tcbInfo = Array(fields.tcb_info.utf8)
        tcbInfoSignature = try signature(fields.tcb_info_signature, "tcb_info_signature")
        // Intel signs both items with its TCB signing certificate: one chain, read once.
        qeIdentityIssuerChain =
            fields.qe_identity_issuer_chain == fields.tcb_info_issuer_chain
            ? tcbInfoIssuerChain : try chain(fields.qe_identity_issuer_chain, "qe_identity_issuer_chain")
        qeIdentity = Array(fields.qe_identity.utf8)
        qeIdentitySignature = try signature(fields.qe_identity_signature, "qe_identity_signature")
    }
}

extension CheckName {
    /// The TCB info is signed by the TCB signing certificate, which chains to the root (not revoked by the root CA's
    /// CRL) at the appraisal's time.
    public static let tcbInfoSignature = CheckName("tcb-info-signature", aspect: .hardware, isCryptographic: true)
    /// The QE identity, likewise.
    public static let qeIdentitySignature = CheckName(
        "qe-identity-signature", aspect: .hardware, isCryptographic: true)
    /// The CRLs are signed by their issuers, which chain to the root, and current at the appraisal's time.
    public static let revocationLists = CheckName("revocation-lists", aspect: .hardware, isCryptographic: true)
}

extension DCAPCollateral {
    /// The collateral's own checks at `time` against `roots` (Intel's SGX Root CA, pinned by the caller), each run
    /// and named: the TCB info's and the QE identity's signatures by their signing chains, and the CRLs' issuers and
    /// currency. Whether the items are current (issue date, next update) and what they say are checked where they are
    /// read.
    public func checks(roots: [X509Certificate], at time: Date) -> [EvidenceCheck] {
        // Every certificate below the root must be covered by the root CA's CRL, as dcap-qvl requires.
        let verifier = CertificateChainVerifier(trustAnchors: roots, requiresRevocationCheck: true)
        func signedItem(
            _ name: CheckName, _ what: String, _ item: [UInt8], _ signature: [UInt8], _ chain: [X509Certificate]
        ) -> EvidenceCheck {
            EvidenceCheck.run(name, "the \(what) is signed by \(chain[0].description), which chains to the root") {
                if let problem = intelProfileProblem(chain, leaf: "\(what) signing certificate") {
                    throw AttestationError(.badCertificate, problem)
                }
                try verifyCarryingRoot(verifier, chain, at: time)
                let key = try chain[0].publicKey()
                guard key.curve == .p256,
                    key.isValidSignature(try ECDSASignature(rawRepresentation: signature, curve: .p256), for: item)
                else {
                    throw AttestationError(
                        .badSignature, "the \(what)'s signature does not verify with \(chain[0].description)'s key")
                }
            }
        }
        return [
            signedItem(.tcbInfoSignature, "TCB info", tcbInfo, tcbInfoSignature, tcbInfoIssuerChain),
            signedItem(.qeIdentitySignature, "QE identity", qeIdentity, qeIdentitySignature, qeIdentityIssuerChain),
            EvidenceCheck.run(
                .revocationLists, "the root CA's and the PCK CRLs are signed by their issuers and current"
            ) {
                guard let root = roots.first(where: rootCACRL.isIssued(byNameOf:)) else {
                    throw AttestationError(
                        .badCertificate, "the root CA CRL is issued by \(rootCACRL.issuer), not by a pinned root")
                }
                for (list, issuer, name) in [
                    (rootCACRL, root, "root CA CRL"), (pckCRL, pckCRLIssuerChain[0], "PCK CRL"),
                ] {
                    guard list.isSignatureValid(issuer: issuer) else {
                        throw AttestationError(.badSignature, "the \(name) is not signed by \(issuer.description)")
                    }
                    guard list.nextUpdate != nil else {
                        throw AttestationError(.badCertificate, "the \(name) states no next update (RFC 5280 §5.1.2.5)")
                    }
                    guard list.isCurrent(at: time) else {
                        throw AttestationError(
                            .badCertificate,
                            "the \(name) is not current at \(time) (\(list.thisUpdate) to "
                                + "\(list.nextUpdate.map { "\($0)" } ?? "no next update"))")
                    }
                }
                // The PCK CRL's issuer is a CA (Intel's PCK Platform or Processor CA): what it must be allowed is
                // signing CRLs.
                var issuers = verifier
                issuers.requiredLeafKeyUsage = .cRLSign
                try verifyCarryingRoot(issuers, pckCRLIssuerChain, at: time)
            },
        ]
    }

    /// Verifies `chain` (a certificate, then its issuers) to a pinned root with the root CA's CRL, and that it is
    /// exactly that path, ending with the root itself (`carriedChainProblem`).
    private func verifyCarryingRoot(
        _ verifier: CertificateChainVerifier, _ chain: [X509Certificate], at time: Date
    ) throws {
        let path = try verifier.verify(
            leaf: chain[0], intermediates: Array(chain.dropFirst()), crls: [rootCACRL], at: time)
        if let problem = carriedChainProblem(chain, path) {
            throw AttestationError(.badCertificate, problem)
        }
    }
}

extension DCAPCollateral {
    /// When the outcome of `checks(roots:at:)` cannot change: every certificate of its chains valid and both CRLs
    /// current (the roots' own validity is the caller's key: a verification is kept per set of roots).
    var verificationWindow: (from: Date, until: Date) {
        let certificates = pckCRLIssuerChain + tcbInfoIssuerChain + qeIdentityIssuerChain
        let starts = certificates.map(\.notValidBefore) + [rootCACRL.thisUpdate, pckCRL.thisUpdate]
        let ends = certificates.map(\.notValidAfter) + [rootCACRL, pckCRL].map { $0.nextUpdate ?? .distantPast }
        return (starts.max() ?? .distantFuture, ends.min() ?? .distantPast)
    }
}

/// What about `chain` (a signing certificate first, then its issuers) departs from the profile of Intel's SGX PKI,
/// which dcap-qvl enforces and OpenSSL's chain verification does not: every certificate signed with ECDSA over SHA-256,
/// and the signing certificate (`leaf` names it) an end entity, not a CA. Nil when none does.
func intelProfileProblem(_ chain: [X509Certificate], leaf: String) -> String? {
    if chain[0].isCertificateAuthority { return "the \(leaf) \(chain[0].description) is a CA, not an end entity" }
    if let other = chain.first(where: { $0.signatureAlgorithm != "ecdsa-with-SHA256" }) {
        return "\(other.description) is signed with \(other.signatureAlgorithm), not ECDSA with SHA-256 as Intel signs"
    }
    return nil
}
