import Attestation
import CloisterCBOR
public import CloisterCrypto
public import FoundationEssentials

/// Intel's side of one simulated platform: root CA, PCK Platform CA, TCB signing certificate, the platform's PCK key
/// and its quoting enclave's attestation key. Secret (kept in the platform home).
///
/// Rules (docs/ARCHITECTURE.md, "Simulated hardware"):
///
/// - PKI. Every certificate's subject says it is simulated and never carries an Intel name: O = "Cloister Simulated
///   Hardware", CN = "Cloister Simulated SGX Root CA", "… SGX PCK Platform CA", "… SGX TCB Signing", "… SGX PCK
///   Certificate". The PCK Platform CA and the TCB signing certificate carry Cloister's platform-id extension
///   (non-critical); one of them is in every chain (the quote's PCK chain, the collateral's signing chains), so
///   `TrustStore.isCloisterRooted` classes the evidence as simulated whatever root it is checked against. The root
///   and the PCK certificate do not carry it: dcap-qvl decodes those two with RustCrypto's x509-cert, whose OIDs
///   have 32-bit arcs, and refuses the platform-id OID's 128-bit UUID arc (it checks the CAs below the root with
///   webpki, which skips an unknown non-critical extension). Keys are ECDSA P-256 and signatures ECDSA with SHA-256,
///   as Intel's. As Intel's certificates: the root CA:TRUE with path length 1, the PCK Platform CA CA:TRUE with path
///   length 0 (both certificate and CRL signing), the TCB signing and PCK certificates end entities for digital
///   signature and non-repudiation, all critical; no extended key usage. The CRL distribution points name the
///   simulated PCS (`collateralURL`, `cloister serve --collateral`) as Intel's name its PCS: the root CA CRL on the
///   root and the PCK Platform CA, the platform PCK CRL on the PCK certificate. Each
///   certificate is valid from an hour before it is issued (clock skew), the root for 25 years, the PCK Platform CA
///   for 15, the TCB signing and PCK certificates for 7; the PCK certificate is issued anew at each publication, for
///   the platform's level.
/// - Platform. FMSPC = the first 6 bytes of SHA-256("cloister-fmspc-v1" ‖ platform id); PCE-ID 0x0000; PPID = the
///   platform id; platform instance id = the first 16 bytes of SHA-256("cloister-platform-instance-v1" ‖ platform id);
///   SGX type 1 (scalable); configuration flags all true, as Intel's PCK Platform CA writes them.
/// - TCB levels (`SimulatedTCB`). At level l: SGX TCB components 1 and 2 = l (at most 255), the others 0; PCESVN = l
///   (at most 65535); CPUSVN = the 16 components; TDX TCB components (`tee_tcb_svn`) = l, 1 (the TDX module's major
///   version), l, then 0. The TCB info lists one level per published level, latest first: UpToDate at the latest,
///   OutOfDate below it with `tcb.advisoryIDs(at: l)`; with `configurationNeeded`, the platform's own level is
///   ConfigurationNeeded (OutOfDateConfigurationNeeded below the latest). The TDX TCB info's module identity
///   "TDX_01" (MRSIGNERSEAM zeros, SEAM attributes zero under a full mask, as Intel's) lists the module's minor version
///   per level, UpToDate at the latest and OutOfDate below; MRSEAM = SHA-384("cloister-simulated-tdx-module-v1").
///   The QE identities ("QE", ISVPRODID 1; "TD_QE", ISVPRODID 2; MRSIGNER = SHA-256("cloister-simulated-qe-signer-v1"),
///   Intel's MISCSELECT and ATTRIBUTES with their masks) list ISVSVN l per level, UpToDate at the latest, OutOfDate
///   below; the QE's ISVSVN is the platform's level. issueDate = the publication time, nextUpdate 30 days later;
///   tcbEvaluationDataNumber = the latest level + 16; tcbDate = midnight of the issue date, 30 days earlier per level
///   below the latest. The root CA CRL and the PCK CRL are issued at publication for 30 days, numbered by its Unix
///   time; the PCK CRL lists the platform's PCK certificate when `tcb.isRevoked`.
/// - Enclave identity (`SimulatedEnclave`). SGX: MRENCLAVE = SHA-256(measurement), MRSIGNER = SHA-256(signer),
///   ISVPRODID = product id, ISVSVN = svn, ATTRIBUTES INIT | MODE64BIT (| DEBUG when debug) with XFRM 0x03,
///   CONFIGID = manifest hash ‖ 16 zero bytes, CPUSVN the platform's, REPORTDATA = report data. TDX: MRTD =
///   measurement, MRCONFIGID = manifest hash, MROWNER = signer, TD attributes SEPT_VE_DISABLE (bit 28, which Linux
///   guests set and dcap-qvl requires) and DEBUG (bit 0) when debug, XFAM 0x61ae7, RTMRs and MROWNERCONFIG zero,
///   REPORTDATA = report data; TD 1.5 adds TEE_TCB_SVN_2 = TEE_TCB_SVN and a zero MRSERVICETD.
/// - Quote. Header: attestation key type 2 (ECDSA P-256), QE vendor id Intel's (a format constant), QE SVN the QE's
///   ISVSVN, PCE SVN the PCESVN, user data = the platform id (the QE id) ‖ 4 zero bytes. The QE report is of the SGX
///   or TDX QE (MRENCLAVE SHA-256("cloister-simulated-qe-v1") or SHA-256("cloister-simulated-td-qe-v1"), ATTRIBUTES
///   INIT | MODE64BIT | PROVISIONKEY), its report data SHA-256(attestation key x ‖ y ‖ QE authentication data) ‖ 32
///   zero bytes, the authentication data the 32 bytes 0x00…0x1f. The PCK chain (PCK certificate, PCK Platform CA,
///   root; PEM ending in a NUL) is certification data type 5, inside type 6 for versions 4 and 5.
public struct SimulatedIntelVendor: Sendable {
    /// The 16-byte platform id the vendor's certificates state.
    public let platformID: [UInt8]
    /// The simulated PCS its certificates name in their CRL distribution points (`cloister serve --collateral`).
    public let collateralURL: String
    let root: CertificateAuthority
    let pckCA: CertificateAuthority
    let tcbSigningCertificate: X509Certificate
    let tcbSigningKey: ECPrivateKey
    let pckKey: ECPrivateKey
    let attestationKey: ECPrivateKey

    /// The vendor's root CA certificate: what a relying party pins for simulated SGX and TDX evidence.
    public var rootCertificate: X509Certificate { root.certificate }

    var platform: SimulatedIntelPlatform { SimulatedIntelPlatform(platformID: platformID) }

    /// Validity of the root, PCK Platform CA, TCB signing and PCK certificates, in years.
    private static let year: TimeInterval = 365 * 86_400
    /// Certificates are valid from an hour before their issue (clock skew between platform and relying party).
    private static let skew: TimeInterval = 3_600
    private static let organization = "Cloister Simulated Hardware"

    /// A fresh vendor for platform `platformID` (16 bytes): fresh keys, its root, PCK Platform CA and TCB signing
    /// certificates issued at `now`.
    public static func create(
        platformID: [UInt8], collateralURL: String = SimulatedCollateralService.defaultURL, at now: Date
    ) throws -> SimulatedIntelVendor {
        guard platformID.count == PlatformCertificateExtensions.platformIDByteCount else {
            throw SimulatedHardwareError(
                .invalidRequest,
                "a platform id is \(PlatformCertificateExtensions.platformIDByteCount) bytes, not \(platformID.count)")
        }
        let start = now - skew
        let marker = PlatformCertificateExtensions.platformID(platformID)
        func name(_ commonName: String) -> DistinguishedName {
            DistinguishedName(["CN": "Cloister Simulated " + commonName, "O": organization])
        }
        let rootCRL = [collateralURL + SimulatedPCS.rootCACRLPath]
        let rootKey = try ECPrivateKey(generating: .p256)
        let root = try CertificateAuthority.selfSigned(
            CertificateProfile(
                subject: name("SGX Root CA"), notValidBefore: start, notValidAfter: now + 25 * year,
                isCertificateAuthority: true, pathLengthConstraint: 1, keyUsage: [.keyCertSign, .cRLSign],
                crlDistributionPoints: rootCRL),
            privateKey: rootKey)
        let pckCAKey = try ECPrivateKey(generating: .p256)
        let pckCA = try CertificateAuthority(
            certificate: root.issue(
                CertificateProfile(
                    subject: name("SGX PCK Platform CA"), notValidBefore: start, notValidAfter: now + 15 * year,
                    isCertificateAuthority: true, pathLengthConstraint: 0, keyUsage: [.keyCertSign, .cRLSign],
                    customExtensions: [marker], crlDistributionPoints: rootCRL),
                for: pckCAKey.publicKey),
            privateKey: pckCAKey)
        let tcbSigningKey = try ECPrivateKey(generating: .p256)
        let tcbSigning = try root.issue(
            CertificateProfile(
                subject: name("SGX TCB Signing"), notValidBefore: start, notValidAfter: now + 7 * year,
                isCertificateAuthority: false, keyUsage: [.digitalSignature, .nonRepudiation],
                customExtensions: [marker]),
            for: tcbSigningKey.publicKey)
        return SimulatedIntelVendor(
            platformID: platformID, collateralURL: collateralURL, root: root, pckCA: pckCA,
            tcbSigningCertificate: tcbSigning, tcbSigningKey: tcbSigningKey,
            pckKey: try ECPrivateKey(generating: .p256),
            attestationKey: try ECPrivateKey(generating: .p256))
    }

    private init(
        platformID: [UInt8], collateralURL: String, root: CertificateAuthority, pckCA: CertificateAuthority,
        tcbSigningCertificate: X509Certificate, tcbSigningKey: ECPrivateKey, pckKey: ECPrivateKey,
        attestationKey: ECPrivateKey
    ) {
        self.platformID = platformID
        self.collateralURL = collateralURL
        self.root = root
        self.pckCA = pckCA
        self.tcbSigningCertificate = tcbSigningCertificate
        self.tcbSigningKey = tcbSigningKey
        self.pckKey = pckKey
        self.attestationKey = attestationKey
    }

    /// The vendor as deterministic CBOR: a map of its platform id, its keys (PKCS#8 DER) and its certificates (DER).
    public func encoded() throws -> [UInt8] {
        try CBORValue.map([
            CBORMapEntry("version", .unsigned(1)),
            CBORMapEntry("platform_id", .bytes(platformID)),
            CBORMapEntry("collateral_url", .text(collateralURL)),
            CBORMapEntry("root_key", .bytes(root.privateKey.pkcs8DERRepresentation)),
            CBORMapEntry("root_certificate", .bytes(root.certificate.derRepresentation)),
            CBORMapEntry("pck_ca_key", .bytes(pckCA.privateKey.pkcs8DERRepresentation)),
            CBORMapEntry("pck_ca_certificate", .bytes(pckCA.certificate.derRepresentation)),
            CBORMapEntry("tcb_signing_key", .bytes(tcbSigningKey.pkcs8DERRepresentation)),
            CBORMapEntry("tcb_signing_certificate", .bytes(tcbSigningCertificate.derRepresentation)),
            CBORMapEntry("pck_key", .bytes(pckKey.pkcs8DERRepresentation)),
            CBORMapEntry("attestation_key", .bytes(attestationKey.pkcs8DERRepresentation)),
        ]).encoded()
    }

    /// Reads a vendor from `encoded()`'s CBOR; a refusal names the field at fault.
    public init(encoded: [UInt8]) throws {
        let fields = try VendorRecord(decoding: encoded, subject: "the simulated Intel vendor", version: 1)
        let platformID = try fields.bytes("platform_id")
        guard platformID.count == PlatformCertificateExtensions.platformIDByteCount else {
            throw fields.refusal("platform_id", "is \(platformID.count) bytes, not 16")
        }
        func authority(_ key: String, _ certificate: String) throws -> CertificateAuthority {
            let privateKey = try fields.ecKey(key, curve: .p256)
            do {
                return try CertificateAuthority(
                    certificate: try fields.certificate(certificate), privateKey: privateKey)
            } catch let error as SimulatedHardwareError {
                throw error
            } catch {
                throw fields.refusal(key, "does not match \(certificate): \(error)")
            }
        }
        let tcbSigning = try authority("tcb_signing_key", "tcb_signing_certificate")
        self.init(
            platformID: platformID, collateralURL: try fields.text("collateral_url"),
            root: try authority("root_key", "root_certificate"),
            pckCA: try authority("pck_ca_key", "pck_ca_certificate"), tcbSigningCertificate: tcbSigning.certificate,
            tcbSigningKey: tcbSigning.privateKey, pckKey: try fields.ecKey("pck_key", curve: .p256),
            attestationKey: try fields.ecKey("attestation_key", curve: .p256))
    }

    /// Everything the vendor publishes for the platform at `tcb`, signed at `now`: the PCK certificate for the
    /// platform's current TCB, the root CA CRL and the PCK (platform CA) CRL listing the PCK when `tcb.isRevoked`,
    /// signed TCB info for SGX and for TDX and QE identity for the SGX QE and the TDX QE, with the issuer chains PCS
    /// sends.
    public func publish(_ tcb: SimulatedTCB, at now: Date) throws -> SimulatedIntelCollateral {
        let now = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        let pck = try pckCA.issue(
            CertificateProfile(
                subject: DistinguishedName([
                    "CN": "Cloister Simulated SGX PCK Certificate", "O": Self.organization,
                ]),
                notValidBefore: now - Self.skew, notValidAfter: now + 7 * Self.year, isCertificateAuthority: false,
                keyUsage: [.digitalSignature, .nonRepudiation],
                customExtensions: [
                    CertificateExtension(
                        oid: PCKCertificateExtensions.oid, value: platform.sgxExtension(level: tcb.level))
                ], crlDistributionPoints: [collateralURL + SimulatedPCS.pckCRLPath]),
            for: pckKey.publicKey)
        let number = UInt64(max(0, now.timeIntervalSince1970))
        let nextUpdate = now + SimulatedIntelDocuments.validity
        let rootCACRL = try root.issueCRL(number: number, thisUpdate: now, nextUpdate: nextUpdate, revoked: [])
        let pckCRL = try pckCA.issueCRL(
            number: number, thisUpdate: now, nextUpdate: nextUpdate,
            revoked: tcb.isRevoked ? [RevokedCertificate(serialNumber: pck.serialNumber, revocationDate: now)] : [])
        let documents = SimulatedIntelDocuments(platform: platform, tcb: tcb, issueDate: now)
        func signed(_ document: [UInt8]) throws -> SimulatedIntelCollateral.SignedDocument {
            SimulatedIntelCollateral.SignedDocument(
                json: document, signature: try tcbSigningKey.signature(for: document).rawRepresentation)
        }
        let chain = [pck, pckCA.certificate, root.certificate].map(\.pemRepresentation).joined()
        return SimulatedIntelCollateral(
            platformID: platformID, tcb: tcb, rootCertificate: root.certificate,
            pckCACertificate: pckCA.certificate, tcbSigningCertificate: tcbSigningCertificate, pckCertificate: pck,
            rootCACRL: rootCACRL, pckCRL: pckCRL, sgxTCBInfo: try signed(documents.tcbInfo(tdx: false)),
            tdxTCBInfo: try signed(documents.tcbInfo(tdx: true)),
            sgxQEIdentity: try signed(documents.qeIdentity(tdx: false)),
            tdxQEIdentity: try signed(documents.qeIdentity(tdx: true)), attestationPublicKey: attestationPublicKey,
            sgxQECertification: try qeCertification(tee: .sgx, level: tcb.level, pckChainPEM: chain),
            tdxQECertification: try qeCertification(tee: .tdx, level: tcb.level, pckChainPEM: chain))
    }
}
