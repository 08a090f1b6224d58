import CloisterCrypto

/// How Cloister's simulated hardware states an enclave's identity in each vendor's fields (docs/ARCHITECTURE.md,
/// "Simulated hardware"): the 48-byte measurement is Cloister's PCR0, TDX's MRTD and SEV-SNP's MEASUREMENT as it is,
/// and SGX's 32-byte MRENCLAVE is its SHA-256; the 48-byte signer id is PCR8, TDX's MROWNER and SEV-SNP's
/// ID_KEY_DIGEST as it is, and SGX's MRSIGNER is its SHA-256. A policy lists both forms (`cloister measure` prints
/// them) to accept an enclave whichever kind of evidence it quotes with.
public enum SimulatedIdentity {
    /// SGX's MRENCLAVE for an enclave `measurement`.
    public static func sgxMREnclave(measurement: [UInt8]) -> [UInt8] {
        DigestAlgorithm.sha256.hash(measurement)
    }

    /// SGX's MRSIGNER for a signer id (SHA-384 of the manifest signer's key).
    public static func sgxMRSigner(signer: [UInt8]) -> [UInt8] {
        DigestAlgorithm.sha256.hash(signer)
    }

    /// The reference measurements (hex) that accept an enclave measured `measurement` in every evidence kind.
    public static func measurements(_ measurement: [UInt8]) -> [String] {
        [hexEncoded(measurement), hexEncoded(sgxMREnclave(measurement: measurement))]
    }

    /// The reference signers (hex) that accept an enclave signed by `signer` in every evidence kind that states one.
    public static func signers(_ signer: [UInt8]) -> [String] {
        [hexEncoded(signer), hexEncoded(sgxMRSigner(signer: signer))]
    }

    /// The format claims in which simulated evidence states the signer id (beside the core's `signer`).
    static let signerClaims = ["mr_owner", "id_key_digest"]

    /// Whether simulated evidence's `claims` name the signer `signer` in any form.
    static func names(_ signer: SignerIdentity, in claims: VerifiedClaims) -> Bool {
        let stated = [claims.signer] + signerClaims.map { claims.details.referenceValues[$0] }
        return !Set(stated.compactMap { $0 }).isDisjoint(with: signers(signer.bytes))
    }
}

extension VerifiedClaims {
    /// Whether these claims name the published development signer: a Cloister quote's PCR8, or simulated evidence's
    /// signer in any form `SimulatedIdentity` maps it to. Nil when the evidence names no manifest signer (hardware
    /// evidence, whose fields were not written from a Cloister manifest).
    public var namesDevelopmentSigner: Bool? {
        if format == .cloister { return signer == SignerIdentity.development.hex }
        guard simulated else { return nil }
        return SimulatedIdentity.names(.development, in: self)
    }
}
