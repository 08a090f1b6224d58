import Attestation
import CloisterCrypto
import FoundationEssentials

/// Evidence of every format, read and verified as the verifier does, with the vectors' trust.
enum EvidenceTargets {
    /// A Cloister or Nitro attestation document (COSE_Sign1 around the document's CBOR).
    static func attestationDocument(_ input: [UInt8]) {
        guard let signed = try? SignedAttestationDocument(encoded: input) else { return }
        let again = try? SignedAttestationDocument(encoded: input)
        require(again?.document == signed.document, "an attestation document reads the same twice")
    }

    /// Any evidence, its format detected, verified in full: the verifier's front door.
    static func evidence(_ input: [UInt8], context: FuzzContext) {
        verify(input, format: nil, context: context, at: FuzzContext.dcapTime)
    }

    /// A DCAP quote (SGX or TDX, versions 3 to 5), verified against the vectors' collateral. The verifier tells SGX
    /// from TDX by the quote's header, as at its front door; the target differs from `evidence` by its corpus, DCAP
    /// quotes only, which keeps a campaign's mutations inside the quote's structures.
    static func dcapQuote(_ input: [UInt8], context: FuzzContext) {
        verify(input, format: nil, context: context, at: FuzzContext.dcapTime)
    }

    /// DCAP collateral (QuoteCollateralV3 JSON) with its TCB info and QE identity, checked against Intel's root.
    static func dcapCollateral(_ input: [UInt8], context: FuzzContext) {
        _ = try? DCAPTCBInfo(json: input)
        _ = try? DCAPQEIdentity(json: input)
        guard let collateral = try? DCAPCollateral(json: input, source: "fuzz input") else { return }
        _ = try? DCAPTCBInfo(json: collateral.tcbInfo)
        _ = try? DCAPQEIdentity(json: collateral.qeIdentity)
        let roots = context.trust[.sgx].roots
        let first = collateral.checks(roots: roots, at: FuzzContext.dcapTime)
        let second = collateral.checks(roots: roots, at: FuzzContext.dcapTime)
        require(first == second, "collateral checks decide the same twice")
    }

    /// An SEV-SNP report, alone or extended with its certificate table, verified against AMD's Milan chain.
    static func snpReport(_ input: [UInt8], context: FuzzContext) {
        _ = try? SEVSNPReport(input)
        verify(input, format: .snp, context: context, at: FuzzContext.snpTime)
    }

    /// X.509 certificates and CRLs as the chain verifier reads them: DER, PEM bundles and chains carried in evidence.
    static func x509(_ input: [UInt8]) {
        if let certificate = try? X509Certificate(derRepresentation: input) {
            require(certificate.derRepresentation == input, "a certificate keeps its DER")
            _ = try? certificate.publicKey()
            _ = certificate.extensions.count
        }
        if let list = try? CertificateRevocationList(derRepresentation: input) {
            require(list.derRepresentation == input, "a CRL keeps its DER")
        }
        if let chain = try? X509Certificate.certificates(fromChainPEM: input) {
            require(!chain.isEmpty, "a chain that reads holds a certificate")
            _ = try? CertificateChainVerifier(trustAnchors: [chain[chain.count - 1]])
                .verify(leaf: chain[0], intermediates: Array(chain.dropFirst()), at: FuzzContext.dcapTime)
        }
        let text = String(decoding: input, as: UTF8.self)
        _ = try? X509Certificate.certificates(fromPEM: text)
        _ = try? CertificateRevocationList.lists(fromPEM: text)
    }

    /// Verifies `input` without and with a cache: a check never passes on bytes that do not decode, and the cache
    /// (a second verification served from it) decides what the first decided.
    private static func verify(_ input: [UInt8], format: EvidenceFormat?, context: FuzzContext, at time: Date) {
        let outcome = EvidenceVerifier(trust: context.trust).verify(input, format: format, at: time)
        if outcome.checks.first?.passed == false {
            require(outcome.checks.count == 1 && outcome.claims == nil, "nothing passes on bytes that do not decode")
        }
        require(!outcome.checks.contains { $0.detail.isEmpty }, "every check states its reason")
        let cached = EvidenceVerifier(trust: context.trust, cache: EvidenceCache())
        let first = cached.verify(input, format: format, at: time)
        let second = cached.verify(input, format: format, at: time)
        let decided = outcome.checks.map { "\($0.name) \($0.passed)" }
        require(first.checks.map { "\($0.name) \($0.passed)" } == decided, "a cache decides as no cache does")
        require(second.checks.map { "\($0.name) \($0.passed)" } == decided, "the cache's second answer is the first")
    }
}
