public import CloisterCrypto

extension CheckName {
    /// The QE report is signed by the PCK certificate's key (ECDSA P-256, SHA-256).
    public static let qeReportSignature = CheckName(
        "qe-report-signature", aspect: .instanceIdentity, isCryptographic: true)
    /// The QE report's data starts with SHA-256(attestation key ‖ QE authentication data): the quoting enclave vouches
    /// for the key that signed the quote (its last 32 bytes are not read, as Intel's QVL and dcap-qvl do not).
    public static let attestationKeyBinding = CheckName(
        "attestation-key-binding", aspect: .instanceIdentity, isCryptographic: true)
}

extension IntelDCAPQuote {
    /// The checks of the quote's own signatures, which need no collateral, each run whatever the others found: the
    /// quote signed by its attestation key (`signature`, over the header, version 5's body descriptor and the body),
    /// the QE report signed by `pckCertificate`'s key (`qe-report-signature`), and the QE report's data binding the
    /// attestation key and the QE authentication data (`attestation-key-binding`). Whether `pckCertificate` chains to
    /// Intel's root, and what the PCK and QE identities mean, are the collateral's checks. With `cache`, the
    /// attestation key is read once per key (reading it checks that it is a point of P-256's group, which costs
    /// about as much as the signature): a platform's quotes share their quoting enclave's key.
    public func signatureChecks(pckCertificate: X509Certificate, cache: EvidenceCache? = nil) -> [EvidenceCheck] {
        [
            EvidenceCheck.run(.signature, "the quote's ECDSA P-256 signature verifies with its attestation key") {
                let read = { try ECPublicKey(x963Representation: [0x04] + attestationKey, curve: .p256) }
                let key = try cache?.reading(attestationKey, read) ?? read()
                let signature = try ECDSASignature(rawRepresentation: self.signature, curve: .p256)
                guard key.isValidSignature(signature, for: signedBytes) else {
                    throw AttestationError(
                        .badSignature, "the quote's signature does not verify with its attestation key")
                }
            },
            EvidenceCheck.run(.qeReportSignature, "the QE report's signature verifies with the PCK certificate's key") {
                let key = try pckCertificate.publicKey()
                let signature = try ECDSASignature(rawRepresentation: qeReportSignature, curve: .p256)
                guard key.curve == .p256, key.isValidSignature(signature, for: qeReportBytes) else {
                    throw AttestationError(
                        .badSignature,
                        "the QE report's signature does not verify with the key of PCK certificate "
                            + pckCertificate.description)
                }
            },
            EvidenceCheck.run(
                .attestationKeyBinding, "the QE report binds the attestation key and the QE authentication data"
            ) {
                let expected = DigestAlgorithm.sha256.hash(attestationKey + qeAuthenticationData)
                guard qeReport.reportData.prefix(32).elementsEqual(expected) else {
                    throw AttestationError(
                        .badSignature,
                        "the QE report's data does not start with SHA-256(attestation key ‖ QE authentication data)")
                }
            },
        ]
    }
}
