public import CloisterCrypto

extension TrustStore.FormatTrust {
    /// SEV-SNP trust from AMD's published file for a product line (its ARK, ASK and ASVK, in any order) and the
    /// endorsement keys (VCEKs or VLEKs, DER) a verifier was given: the self-signed ARK is the root, the others are
    /// certificates the chain may use. `cloister verify --trust-anchor … --vcek …` and `cloister serve --amd-chain …
    /// --vcek …` build their trust this way.
    public static func sevSNP(
        vendorChain: [X509Certificate], endorsementKeys: [[UInt8]] = [],
        revocationLists: [CertificateRevocationList] = []
    ) -> Self {
        Self(
            roots: vendorChain.filter(\.isSelfSigned), revocationLists: revocationLists,
            collateral: vendorChain.filter { !$0.isSelfSigned }.map(\.derRepresentation) + endorsementKeys)
    }
}
