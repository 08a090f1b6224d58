public import Attestation
import CloisterCBOR
public import CloisterCrypto
import FoundationEssentials

/// What the simulated Intel vendor published for one platform at one TCB (`SimulatedIntelVendor.publish`): the PCK
/// certificate and its chain, both CRLs, the signed TCB info of SGX and TDX and the signed QE identities. Public (the
/// platform keeps it in its home, its PCS serves it, its quotes embed the PCK chain).
public struct SimulatedIntelCollateral: Sendable {
    /// A signed collateral item: its JSON exactly as signed and the TCB signing key's ECDSA P-256 signature (r ‖ s).
    public struct SignedDocument: Sendable, Hashable {
        public let json: [UInt8]
        public let signature: [UInt8]
    }

    public let platformID: [UInt8]
    /// The TCB the collateral was published for.
    public let tcb: SimulatedTCB
    public let rootCertificate: X509Certificate
    public let pckCACertificate: X509Certificate
    public let tcbSigningCertificate: X509Certificate
    /// The platform's PCK certificate for its level (its SGX extension states the level's TCB).
    public let pckCertificate: X509Certificate
    public let rootCACRL: CertificateRevocationList
    public let pckCRL: CertificateRevocationList
    public let sgxTCBInfo: SignedDocument
    public let tdxTCBInfo: SignedDocument
    public let sgxQEIdentity: SignedDocument
    public let tdxQEIdentity: SignedDocument
    /// The quoting enclaves' attestation public key (x ‖ y, 64 bytes), and the certification every quote of the SGX
    /// or TDX QE carries after it: the QE report binding that key, its PCK signature, the QE authentication data and
    /// the PCK chain (certification data type 5). As Intel's QE certifies its attestation key once, not per quote,
    /// these are made at publication.
    public let attestationPublicKey: [UInt8]
    public let sgxQECertification: [UInt8]
    public let tdxQECertification: [UInt8]

    init(
        platformID: [UInt8], tcb: SimulatedTCB, rootCertificate: X509Certificate, pckCACertificate: X509Certificate,
        tcbSigningCertificate: X509Certificate, pckCertificate: X509Certificate, rootCACRL: CertificateRevocationList,
        pckCRL: CertificateRevocationList, sgxTCBInfo: SignedDocument, tdxTCBInfo: SignedDocument,
        sgxQEIdentity: SignedDocument, tdxQEIdentity: SignedDocument, attestationPublicKey: [UInt8],
        sgxQECertification: [UInt8], tdxQECertification: [UInt8]
    ) {
        self.platformID = platformID
        self.tcb = tcb
        self.rootCertificate = rootCertificate
        self.pckCACertificate = pckCACertificate
        self.tcbSigningCertificate = tcbSigningCertificate
        self.pckCertificate = pckCertificate
        self.rootCACRL = rootCACRL
        self.pckCRL = pckCRL
        self.sgxTCBInfo = sgxTCBInfo
        self.tdxTCBInfo = tdxTCBInfo
        self.sgxQEIdentity = sgxQEIdentity
        self.tdxQEIdentity = tdxQEIdentity
        self.attestationPublicKey = attestationPublicKey
        self.sgxQECertification = sgxQECertification
        self.tdxQECertification = tdxQECertification
    }

    /// The certification data a quote of `tee`'s QE carries.
    func qeCertification(_ tee: IntelDCAPQuoteHeader.TEE) -> [UInt8] {
        tee == .sgx ? sgxQECertification : tdxQECertification
    }

    /// The platform's FMSPC (6 bytes).
    public var fmspc: [UInt8] { SimulatedIntelPlatform(platformID: platformID).fmspc }

    /// The chain that signs the PCK CRL: the PCK Platform CA, then the root (PEM).
    public var pckCRLIssuerChainPEM: String { [pckCACertificate, rootCertificate].map(\.pemRepresentation).joined() }
    /// The chain that signs TCB info and QE identity: the TCB signing certificate, then the root (PEM).
    public var tcbSigningChainPEM: String {
        [tcbSigningCertificate, rootCertificate].map(\.pemRepresentation).joined()
    }

    /// The TCB info of `tee`.
    public func tcbInfo(_ tee: IntelDCAPQuoteHeader.TEE) -> SignedDocument { tee == .sgx ? sgxTCBInfo : tdxTCBInfo }
    /// The QE identity of `tee`'s quoting enclave.
    public func qeIdentity(_ tee: IntelDCAPQuoteHeader.TEE) -> SignedDocument {
        tee == .sgx ? sgxQEIdentity : tdxQEIdentity
    }

    /// The QuoteCollateralV3 JSON for `tee` (what `cloister verify --collateral FILE` and dcap-qvl read): the nine
    /// fields, CRLs as DER in hex, signatures r ‖ s in hex, TCB info and QE identity as the JSON text signed.
    public func quoteCollateralJSON(tee: IntelDCAPQuoteHeader.TEE) throws -> [UInt8] {
        let document = QuoteCollateralV3(
            pckCRLIssuerChain: pckCRLIssuerChainPEM, rootCACRL: hexEncoded(rootCACRL.derRepresentation),
            pckCRL: hexEncoded(pckCRL.derRepresentation), tcbInfoIssuerChain: tcbSigningChainPEM,
            tcbInfo: String(decoding: tcbInfo(tee).json, as: UTF8.self),
            tcbInfoSignature: hexEncoded(tcbInfo(tee).signature), qeIdentityIssuerChain: tcbSigningChainPEM,
            qeIdentity: String(decoding: qeIdentity(tee).json, as: UTF8.self),
            qeIdentitySignature: hexEncoded(qeIdentity(tee).signature))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(document))
    }

    private struct QuoteCollateralV3: Encodable {
        let pckCRLIssuerChain, rootCACRL, pckCRL, tcbInfoIssuerChain, tcbInfo, tcbInfoSignature: String
        let qeIdentityIssuerChain, qeIdentity, qeIdentitySignature: String

        enum CodingKeys: String, CodingKey {
            case pckCRLIssuerChain = "pck_crl_issuer_chain"
            case rootCACRL = "root_ca_crl"
            case pckCRL = "pck_crl"
            case tcbInfoIssuerChain = "tcb_info_issuer_chain"
            case tcbInfo = "tcb_info"
            case tcbInfoSignature = "tcb_info_signature"
            case qeIdentityIssuerChain = "qe_identity_issuer_chain"
            case qeIdentity = "qe_identity"
            case qeIdentitySignature = "qe_identity_signature"
        }
    }

    /// The collateral as deterministic CBOR, for the platform's home.
    public func encoded() throws -> [UInt8] {
        func document(_ signed: SignedDocument) -> CBORValue {
            .map([CBORMapEntry("json", .bytes(signed.json)), CBORMapEntry("signature", .bytes(signed.signature))])
        }
        return try CBORValue.map([
            CBORMapEntry("version", .unsigned(1)),
            CBORMapEntry("platform_id", .bytes(platformID)),
            CBORMapEntry("level", .unsigned(UInt64(tcb.level))),
            CBORMapEntry("latest_level", .unsigned(UInt64(tcb.latestLevel))),
            CBORMapEntry("configuration_needed", .bool(tcb.configurationNeeded)),
            CBORMapEntry("revoked", .bool(tcb.isRevoked)),
            CBORMapEntry("root_certificate", .bytes(rootCertificate.derRepresentation)),
            CBORMapEntry("pck_ca_certificate", .bytes(pckCACertificate.derRepresentation)),
            CBORMapEntry("tcb_signing_certificate", .bytes(tcbSigningCertificate.derRepresentation)),
            CBORMapEntry("pck_certificate", .bytes(pckCertificate.derRepresentation)),
            CBORMapEntry("root_ca_crl", .bytes(rootCACRL.derRepresentation)),
            CBORMapEntry("pck_crl", .bytes(pckCRL.derRepresentation)),
            CBORMapEntry("sgx_tcb_info", document(sgxTCBInfo)),
            CBORMapEntry("tdx_tcb_info", document(tdxTCBInfo)),
            CBORMapEntry("sgx_qe_identity", document(sgxQEIdentity)),
            CBORMapEntry("tdx_qe_identity", document(tdxQEIdentity)),
            CBORMapEntry("attestation_public_key", .bytes(attestationPublicKey)),
            CBORMapEntry("sgx_qe_certification", .bytes(sgxQECertification)),
            CBORMapEntry("tdx_qe_certification", .bytes(tdxQECertification)),
        ]).encoded()
    }

    /// Reads collateral from `encoded()`'s CBOR; a refusal names the field at fault.
    public init(encoded: [UInt8]) throws {
        let what = "the simulated Intel collateral"
        let fields = try VendorRecord(decoding: encoded, subject: what, version: 1)
        func storedLevel(_ field: String) throws -> UInt32 {
            let value = try fields.unsigned(field)
            guard (1...UInt64(UInt32.max)).contains(value) else { throw fields.refusal(field, "is not 1 to 2^32-1") }
            return UInt32(value)
        }
        func document(_ field: String) throws -> SignedDocument {
            let item = try VendorRecord(
                decoding: try fields.value(field).encoded(), subject: "\(what)'s \(field)", version: nil)
            let signature = try item.bytes("signature")
            guard signature.count == 64 else { throw item.refusal("signature", "is not 64 bytes (r ‖ s)") }
            return SignedDocument(json: try item.bytes("json"), signature: signature)
        }
        let level = try storedLevel("level")
        let latest = try storedLevel("latest_level")
        guard latest >= level else { throw fields.refusal("latest_level", "is below level") }
        self.init(
            platformID: try fields.bytes("platform_id"),
            tcb: SimulatedTCB(
                level: level, latestLevel: latest, configurationNeeded: try fields.bool("configuration_needed"),
                isRevoked: try fields.bool("revoked")),
            rootCertificate: try fields.certificate("root_certificate"),
            pckCACertificate: try fields.certificate("pck_ca_certificate"),
            tcbSigningCertificate: try fields.certificate("tcb_signing_certificate"),
            pckCertificate: try fields.certificate("pck_certificate"),
            rootCACRL: try fields.revocationList("root_ca_crl"), pckCRL: try fields.revocationList("pck_crl"),
            sgxTCBInfo: try document("sgx_tcb_info"), tdxTCBInfo: try document("tdx_tcb_info"),
            sgxQEIdentity: try document("sgx_qe_identity"), tdxQEIdentity: try document("tdx_qe_identity"),
            attestationPublicKey: try fields.bytes("attestation_public_key", count: 64),
            sgxQECertification: try fields.bytes("sgx_qe_certification"),
            tdxQECertification: try fields.bytes("tdx_qe_certification"))
    }
}
