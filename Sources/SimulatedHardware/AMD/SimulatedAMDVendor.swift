public import Attestation
import CloisterCBOR
public import CloisterCrypto
public import FoundationEssentials

/// AMD's side of one simulated platform: the ARK, ASK and ASVK (RSA, signing RSA-PSS), the chip's secret from which
/// its VCEKs are derived per TCB, and optionally a cloud provider's VLEK seed. It publishes VCEKs, VLEKs, chains and
/// CRLs (`publish`) and signs SEV-SNP attestation reports of versions 2, 3 and 5 (`report`) that Cloister's verifier
/// (format `snp`) and the OpenSSL command line accept.
///
/// The rules (docs/ARCHITECTURE.md, "Simulated hardware"):
///
/// - **Names.** Certificates say they are simulated and never carry AMD's exact names: O = "Cloister Simulated
///   Hardware", CN = "Cloister Simulated ARK-Milan" (ARK), "Cloister Simulated SEV-Milan" (ASK), "Cloister Simulated
///   SEV-VLEK-Milan" (ASVK), "Cloister Simulated SEV-VCEK", "Cloister Simulated SEV-VLEK" (Genoa likewise). Every
///   certificate, the ARK included, carries Cloister's platform-id extension (non-critical), so
///   `TrustStore.isCloisterRooted` classes the evidence as simulated. The simulated ARK is not among
///   `TrustStore.amdARKFingerprints`: the verifier's `product-line` check passes it by its simulated name, says it is
///   a simulated ARK and warns that it is not one of AMD's published ARKs.
/// - **Otherwise AMD's profile.** The ARK, ASK and ASVK are RSA keys (`rsaBits`; AMD's are 4096) signing RSASSA-PSS
///   with SHA-384, MGF1-SHA-384 and a 48-byte salt; the ARK is self-signed (keyCertSign, cRLSign), the ASK and ASVK
///   CAs with path length 0 (keyCertSign). The VCEK and VLEK are ECDSA P-384 keys with AMD's extensions under
///   1.3.6.1.4.1.3704.1: .1 structure version 0, .2 product name ("Milan-B1", "Genoa-B1"; a VLEK the line alone),
///   .3.1 bootloader, .3.2 TEE, .3.3 SNP, .3.4–.3.7 zero, .3.8 microcode SPLs, and .4 the hwID (a VCEK; written as a
///   DER OCTET STRING, which AMD omits and every reader accepts) or .5 the cloud provider's id (a VLEK, IA5String).
///   Unlike AMD's, the VCEK and VLEK carry a random non-zero serial number and a digitalSignature key usage.
/// - **VCEKs are derived per TCB, as AMD's are**: the VCEK's private key at a TCB is HKDF-SHA-384 from the chip's
///   secret with the hwID and the TCB_VERSION, so a TCB change yields a new key and the same TCB the same key; a
///   VLEK likewise from the provider's seed. `publish` issues a fresh certificate for the key each time.
/// - **TCB mapping** from `SimulatedTCB` (Milan and Genoa layout): REPORTED, COMMITTED, CURRENT and LAUNCH TCB are
///   bootloader = level, TEE = 0, SNP = level, microcode = level, the bootloader and SNP SPLs clamped to 127 (AMD's
///   VCEK extensions and Cloister's verifier refuse more) and microcode to 255; the current and committed firmware
///   version is 1.55 with the build = level (clamped to 255).
/// - **Enclave mapping**: MEASUREMENT = the enclave's measurement (48 bytes); REPORT_DATA = its report data;
///   HOST_DATA = the first 32 bytes of the manifest hash; ID_KEY_DIGEST = the signer (48 bytes); AUTHOR_KEY_DIGEST
///   zero; FAMILY_ID = the product id, 16 bytes little endian; IMAGE_ID = zeros; GUEST_SVN = the SVN; POLICY = SMT
///   allowed (bit 16), the reserved bit 17, DEBUG (bit 19) when the enclave is debuggable; VMPL 0; PLATFORM_INFO =
///   SMT enabled; CHIP_ID = hwID = SHA-512("cloister-chip-id-v1" ‖ platform id); REPORT_ID = the first 32 bytes of
///   SHA-384("cloister-snp-report-id-v1" ‖ CHIP_ID ‖ measurement ‖ manifest hash); REPORT_ID_MA all 0xFF (no
///   migration agent); SIGNATURE_ALGO 1 (ECDSA P-384 with SHA-384) over bytes 0x000–0x29F, r and s little endian in
///   72-byte fields. Version 3 and 5 add the CPUID family, model and stepping of a Milan-B1 (0x19, 0x01, 0x01) or
///   Genoa-B1 (0x19, 0x11, 0x01) part; version 5 the launch and current mitigation vectors, bit i set for each TCB
///   recovery up to the level (bits 0 to level - 1).
/// - **Revocation.** When the platform's keys are revoked (`SimulatedTCB.isRevoked`), the ARK's CRL lists the
///   platform's ASK and ASVK, as AMD's CRLs list revoked ASKs: every VCEK and VLEK below them is refused by any chain
///   check given the CRL (Cloister's, OpenSSL's), with no change to how real evidence is verified. Each simulated
///   platform has its own ARK, ASK and ASVK, so that revokes this platform's keys and no other's.
public struct SimulatedAMDVendor: Sendable {
    /// The product lines a simulated vendor can be, with the product name its VCEKs state and its CPUID family,
    /// model and stepping.
    static let productLines: [String: (productName: String, cpuid: (family: UInt8, model: UInt8, stepping: UInt8))] =
        [
            "Milan": ("Milan-B1", (0x19, 0x01, 0x01)),
            "Genoa": ("Genoa-B1", (0x19, 0x11, 0x01)),
        ]
    /// The report versions the vendor signs.
    public static let reportVersions: Set<UInt32> = [2, 3, 5]
    /// The organisation every simulated AMD certificate names.
    public static let organization = "Cloister Simulated Hardware"

    /// The platform's 16-byte id (Cloister's platform-id extension in every certificate).
    public let platformID: [UInt8]
    /// "Milan" or "Genoa".
    public let productLine: String
    /// The chip's 64-byte CHIP_ID: SHA-512("cloister-chip-id-v1" ‖ platform id).
    public let hwID: [UInt8]
    /// The cloud provider's id a VLEK states, or nil when the vendor issues no VLEK.
    public let cloudServiceProviderID: String?
    public var arkCertificate: X509Certificate { ark.certificate }
    public var askCertificate: X509Certificate { ask.certificate }
    public var asvkCertificate: X509Certificate { asvk.certificate }
    /// The product name a VCEK states ("Milan-B1", "Genoa-B1").
    public var productName: String { Self.productLines[productLine]?.productName ?? productLine }

    private let ark: CertificateAuthority
    private let ask: CertificateAuthority
    private let asvk: CertificateAuthority
    private let chipSecret: [UInt8]
    private let vlekSeed: [UInt8]?

    private init(
        platformID: [UInt8], productLine: String, cloudServiceProviderID: String?, ark: CertificateAuthority,
        ask: CertificateAuthority, asvk: CertificateAuthority, chipSecret: [UInt8], vlekSeed: [UInt8]?
    ) {
        self.platformID = platformID
        self.productLine = productLine
        self.hwID = Self.hwID(platformID: platformID)
        self.cloudServiceProviderID = cloudServiceProviderID
        self.ark = ark
        self.ask = ask
        self.asvk = asvk
        self.chipSecret = chipSecret
        self.vlekSeed = vlekSeed
    }

    /// The hwID (CHIP_ID) of the platform `platformID`: SHA-512("cloister-chip-id-v1" ‖ platform id).
    public static func hwID(platformID: [UInt8]) -> [UInt8] {
        DigestAlgorithm.sha512.hash(Array("cloister-chip-id-v1".utf8) + platformID)
    }

    /// A new vendor for the platform `platformID` (16 bytes) of `productLine` ("Milan" or "Genoa"): fresh RSA keys of
    /// `rsaBits` bits for the ARK, ASK and ASVK (valid from a day before `now` for 25 years, as AMD's are), a fresh
    /// chip secret, and, when `cloudServiceProviderID` is given, a provider's VLEK seed. The ASK and ASVK name the
    /// product line's CRL at the simulated KDS (`collateralURL`) in their CRL distribution points, as AMD's name
    /// theirs.
    public static func create(
        platformID: [UInt8], productLine: String, rsaBits: Int, at now: Date,
        cloudServiceProviderID: String? = nil, collateralURL: String = SimulatedCollateralService.defaultURL
    ) throws -> SimulatedAMDVendor {
        guard platformID.count == PlatformCertificateExtensions.platformIDByteCount else {
            throw SimulatedHardwareError(
                .invalidRequest,
                "a platform id is \(PlatformCertificateExtensions.platformIDByteCount) bytes, not \(platformID.count)")
        }
        guard productLines[productLine] != nil else {
            throw SimulatedHardwareError(.invalidRequest, "the product line \(productLine) is not Milan or Genoa")
        }
        if let id = cloudServiceProviderID, id.isEmpty || !id.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            throw SimulatedHardwareError(.invalidRequest, "a cloud provider id is printable ASCII, not \"\(id)\"")
        }
        let notBefore = now - 86_400
        let notAfter = now + 25 * 365 * 86_400
        let platform = PlatformCertificateExtensions.platformID(platformID)
        func profile(_ name: String, serial: [UInt8], root: Bool) -> CertificateProfile {
            CertificateProfile(
                subject: Self.name(name), notValidBefore: notBefore, notValidAfter: notAfter, serialNumber: serial,
                isCertificateAuthority: true, pathLengthConstraint: root ? nil : 0,
                keyUsage: root ? [.keyCertSign, .cRLSign] : [.keyCertSign], customExtensions: [platform],
                crlDistributionPoints: root ? [] : ["\(collateralURL)/vcek/v1/\(productLine)/crl"])
        }
        let ark = try CertificateAuthority.selfSigned(
            profile("ARK-\(productLine)", serial: [0x01, 0x00, 0x00], root: true),
            privateKey: RSAPrivateKey(generatingBits: rsaBits))
        func intermediate(_ name: String, serial: [UInt8]) throws -> CertificateAuthority {
            let key = try RSAPrivateKey(generatingBits: rsaBits)
            let certificate = try ark.issue(profile(name, serial: serial, root: false), for: key.publicKey)
            return try CertificateAuthority(certificate: certificate, privateKey: key)
        }
        return SimulatedAMDVendor(
            platformID: platformID, productLine: productLine, cloudServiceProviderID: cloudServiceProviderID, ark: ark,
            ask: try intermediate("SEV-\(productLine)", serial: [0x01, 0x00, 0x01]),
            asvk: try intermediate("SEV-VLEK-\(productLine)", serial: [0x01, 0x01, 0x01]),
            chipSecret: try SecureRandom.bytes(count: 48),
            vlekSeed: cloudServiceProviderID == nil ? nil : try SecureRandom.bytes(count: 48))
    }

    /// A simulated AMD name: O = "Cloister Simulated Hardware", CN = "Cloister Simulated \(commonName)".
    static func name(_ commonName: String) -> DistinguishedName {
        DistinguishedName(["O": organization, "CN": "Cloister Simulated \(commonName)"])
    }

    // MARK: Stored state

    private static let subject = "the simulated AMD vendor"
    private static let version: UInt64 = 1

    /// Reads a vendor `encoded()` wrote; refusals name the field at fault.
    public init(encoded bytes: [UInt8]) throws {
        let record = try VendorRecord(decoding: bytes, subject: Self.subject, version: Self.version)
        let platformID = try record.bytes("platform-id", count: PlatformCertificateExtensions.platformIDByteCount)
        let productLine = try record.text("product-line")
        guard Self.productLines[productLine] != nil else {
            throw SimulatedHardwareError(
                .malformedState, "\(Self.subject): field \"product-line\" is \(productLine), not Milan or Genoa")
        }
        func authority(_ name: String) throws -> CertificateAuthority {
            let certificate = try record.certificate(name)
            let key = try record.rsaKey("\(name)-key")
            do {
                return try CertificateAuthority(certificate: certificate, privateKey: key)
            } catch {
                throw SimulatedHardwareError(
                    .malformedState, "\(Self.subject): field \"\(name)-key\" is not the key of field \"\(name)\"")
            }
        }
        let provider = try record.optionalText("csp-id")
        let seed = try record.optionalBytes("vlek-seed")
        guard (provider == nil) == (seed == nil) else {
            throw SimulatedHardwareError(
                .malformedState, "\(Self.subject): fields \"csp-id\" and \"vlek-seed\" come together or not at all")
        }
        self.init(
            platformID: platformID, productLine: productLine, cloudServiceProviderID: provider,
            ark: try authority("ark"), ask: try authority("ask"), asvk: try authority("asvk"),
            chipSecret: try record.bytes("chip-secret", count: 48), vlekSeed: seed)
    }

    /// Deterministic CBOR: a map of the platform id, product line, the ARK, ASK and ASVK certificates (DER) and keys
    /// (PKCS#8 DER), the chip secret and, with a VLEK, the provider's id and seed.
    public func encoded() throws -> [UInt8] {
        var record = VendorRecord(subject: Self.subject)
        record["version"] = .unsigned(Self.version)
        record["platform-id"] = .bytes(platformID)
        record["product-line"] = .text(productLine)
        for (name, authority) in [("ark", ark), ("ask", ask), ("asvk", asvk)] {
            guard case .rsaPSS(let key) = authority.signingKey else {
                throw SimulatedHardwareError(.malformedState, "\(Self.subject): the \(name) does not sign RSA-PSS")
            }
            record[name] = .bytes(authority.certificate.derRepresentation)
            record["\(name)-key"] = .bytes(key.pkcs8DERRepresentation)
        }
        record["chip-secret"] = .bytes(chipSecret)
        record["csp-id"] = cloudServiceProviderID.map { .text($0) }
        record["vlek-seed"] = vlekSeed.map { .bytes($0) }
        return try record.encoded()
    }

    // MARK: TCB

    /// The TCB_VERSION (Milan and Genoa layout) of a platform at `tcb`: bootloader (byte 0) = level, TEE (byte 1) =
    /// 0, SNP (byte 6) = level, the two clamped to 127; microcode (byte 7) = level clamped to 255.
    public static func tcbVersion(_ tcb: SimulatedTCB) -> UInt64 {
        let spl = UInt64(min(tcb.level, 127))
        let microcode = UInt64(min(tcb.level, 255))
        return spl | spl << 48 | microcode << 56
    }

    /// The endorsement-key extensions for `tcbVersion` (structure version, product name, the eight SPLs).
    private static func tcbExtensions(productName: String, tcbVersion: UInt64) -> [CertificateExtension] {
        func integer(_ value: UInt64) -> [UInt8] {
            let byte = UInt8(truncatingIfNeeded: value)
            return byte < 0x80 ? [0x02, 0x01, byte] : [0x02, 0x02, 0x00, byte]
        }
        func amd(_ arc: String, _ value: [UInt8]) -> CertificateExtension {
            CertificateExtension(oid: "\(AMDEndorsementKeyExtensions.oidPrefix).\(arc)", value: value)
        }
        let parts: [(arc: String, shift: UInt64)] = [
            ("3.1", 0), ("3.2", 8), ("3.4", 16), ("3.5", 24), ("3.6", 32), ("3.7", 40), ("3.3", 48), ("3.8", 56),
        ]
        return [amd("1", integer(0)), amd("2", [0x16, UInt8(productName.utf8.count)] + Array(productName.utf8))]
            + parts.map { amd($0.arc, integer(tcbVersion >> $0.shift)) }
    }

    // MARK: Endorsement keys

    /// The VCEK's private key at `tcbVersion`: a P-384 scalar by HKDF-SHA-384 from the chip secret, the hwID and the
    /// TCB (the next counter when a candidate is not below the group order).
    func vcekKey(tcbVersion: UInt64) throws -> ECPrivateKey {
        try Self.derivedKey(secret: chipSecret, label: "cloister-simulated-vcek-v1", context: hwID, tcbVersion)
    }

    func vlekKey(tcbVersion: UInt64) throws -> ECPrivateKey? {
        guard let vlekSeed else { return nil }
        return try Self.derivedKey(
            secret: vlekSeed, label: "cloister-simulated-vlek-v1", context: Array((cloudServiceProviderID ?? "").utf8),
            tcbVersion)
    }

    /// The order of P-384, big endian.
    private static let p384Order: [UInt8] =
        hexDecoded("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973")
        ?? []

    private static func derivedKey(secret: [UInt8], label: String, context: [UInt8], _ tcbVersion: UInt64) throws
        -> ECPrivateKey
    {
        let tcb = withUnsafeBytes(of: tcbVersion.littleEndian, Array.init)
        for counter in UInt8(0)..<16 {
            let scalar = try HKDF.deriveKey(
                inputKeyMaterial: secret, salt: Array(label.utf8), info: context + tcb + [counter], length: 48,
                digest: .sha384)
            if scalar.contains(where: { $0 != 0 }) && scalar.lexicographicallyPrecedes(p384Order) {
                return try ECPrivateKey(rawRepresentation: scalar, curve: .p384)
            }
        }
        throw SimulatedHardwareError(.invalidRequest, "no P-384 key derives from the secret at TCB \(tcbVersion)")
    }

    // MARK: Publishing

    /// What the vendor publishes for the platform at `tcb`, issued at `now`: the VCEK (and VLEK) for the platform's
    /// reported TCB, valid from a day before `now` for seven years as AMD's are; the ASK→ARK and ASVK→ARK chains;
    /// and the ARK's CRL (RSA-PSS, numbered by `now`'s seconds, current for seven days), listing the ASK and ASVK
    /// when `tcb.isRevoked`.
    public func publish(_ tcb: SimulatedTCB, at now: Date) throws -> SimulatedAMDCollateral {
        let tcbVersion = Self.tcbVersion(tcb)
        let platform = PlatformCertificateExtensions.platformID(platformID)
        func profile(_ commonName: String, _ extensions: [CertificateExtension]) -> CertificateProfile {
            CertificateProfile(
                subject: Self.name(commonName), notValidBefore: now - 86_400, notValidAfter: now + 7 * 365 * 86_400,
                isCertificateAuthority: false, keyUsage: [.digitalSignature],
                customExtensions: extensions + [platform])
        }
        let vcek = try ask.issue(
            profile(
                "SEV-VCEK",
                Self.tcbExtensions(productName: productName, tcbVersion: tcbVersion) + [
                    CertificateExtension(oid: "\(AMDEndorsementKeyExtensions.oidPrefix).4", value: [0x04, 0x40] + hwID)
                ]),
            for: vcekKey(tcbVersion: tcbVersion).publicKey)
        var vlek: X509Certificate?
        if let key = try vlekKey(tcbVersion: tcbVersion), let provider = cloudServiceProviderID {
            vlek = try asvk.issue(
                profile(
                    "SEV-VLEK",
                    Self.tcbExtensions(productName: productLine, tcbVersion: tcbVersion) + [
                        CertificateExtension(
                            oid: "\(AMDEndorsementKeyExtensions.oidPrefix).5",
                            value: [0x16, UInt8(provider.utf8.count)] + Array(provider.utf8))
                    ]),
                for: key.publicKey)
        }
        let revoked =
            tcb.isRevoked
            ? [ask.certificate, asvk.certificate].map {
                RevokedCertificate(serialNumber: $0.serialNumber, revocationDate: now)
            } : []
        let crl = try ark.issueCRL(
            number: UInt64(max(0, now.timeIntervalSince1970)), thisUpdate: now, nextUpdate: now + 7 * 86_400,
            revoked: revoked)
        return SimulatedAMDCollateral(
            productLine: productLine, hwID: hwID, reportedTCB: tcbVersion, vcek: vcek, vlek: vlek,
            ask: ask.certificate, asvk: asvk.certificate, ark: ark.certificate, crl: crl)
    }

    // MARK: Reports

    /// A fresh SEV-SNP report (version 2, 3 or 5) for `enclave` on this chip at `tcb`, signed by the VCEK (or the
    /// VLEK) `collateral` certifies; refused when the collateral is another chip's, was published for another TCB,
    /// or holds no VLEK when one is asked for. A platform that makes many reports takes `signer` once instead.
    public func report(
        version: UInt32, enclave: SimulatedEnclave, tcb: SimulatedTCB, collateral: SimulatedAMDCollateral,
        signingKey: SimulatedSNPSigningKey = .vcek
    ) throws -> [UInt8] {
        try signer(signingKey, tcb: tcb, collateral: collateral).report(version: version, enclave: enclave)
    }

    /// The chip's signer of reports at `tcb` with `signingKey`: its private key derived once (a P-384 scalar
    /// multiplication, as much as a signature) and checked against the certificate `collateral` publishes for it.
    public func signer(
        _ signingKey: SimulatedSNPSigningKey, tcb: SimulatedTCB, collateral: SimulatedAMDCollateral
    ) throws -> SimulatedSNPSigner {
        let tcbVersion = Self.tcbVersion(tcb)
        guard collateral.hwID == hwID, collateral.reportedTCB == tcbVersion else {
            throw SimulatedHardwareError(
                .invalidRequest,
                "the collateral was published for chip \(hexEncoded(Array(collateral.hwID.prefix(8))))… at TCB 0x"
                    + "\(String(collateral.reportedTCB, radix: 16)), not this chip at TCB 0x"
                    + "\(String(tcbVersion, radix: 16))")
        }
        let key: ECPrivateKey
        let certificate: X509Certificate
        switch signingKey {
        case .vcek:
            key = try vcekKey(tcbVersion: tcbVersion)
            certificate = collateral.vcek
        case .vlek:
            guard let vlekKey = try vlekKey(tcbVersion: tcbVersion), let vlek = collateral.vlek else {
                throw SimulatedHardwareError(
                    .invalidRequest, "a VLEK report needs a vendor with a cloud provider and its published VLEK")
            }
            key = vlekKey
            certificate = vlek
        }
        guard try certificate.publicKey() == key.publicKey else {
            throw SimulatedHardwareError(.invalidRequest, "the collateral's \(signingKey) is not this vendor's key")
        }
        return SimulatedSNPSigner(
            key: key, signingKey: signingKey, tcb: tcbVersion, level: tcb.level, chipID: hwID,
            cpuid: Self.productLines[productLine]?.cpuid ?? (0, 0, 0))
    }

    /// The extended-report bundle of `report` (as SNP_GET_EXT_REPORT returns it and `SEVSNPEvidence` reads it): the
    /// 1184-byte report, then a certificate table of 24-byte entries {GUID, offset from the table's start, length}
    /// ended by an all-zero entry, then the DER certificates: the VCEK, ASK and ARK for a VCEK-signed report; the
    /// VLEK, ASVK (under the ASK's GUID) and ARK for a VLEK-signed one.
    public func evidenceBundle(report: [UInt8], collateral: SimulatedAMDCollateral) throws -> [UInt8] {
        guard report.count == SEVSNPReportHeader.byteCount else {
            throw SimulatedHardwareError(.invalidRequest, "a report is 1184 bytes, not \(report.count)")
        }
        let signer = (report[0x48] >> 2) & 7
        let certificates: [(SEVSNPEvidence.CertificateRole, X509Certificate)]
        switch signer {
        case 0:
            certificates = [(.vcek, collateral.vcek), (.ask, collateral.ask), (.ark, collateral.ark)]
        case 1:
            guard let vlek = collateral.vlek else {
                throw SimulatedHardwareError(.invalidRequest, "the report is VLEK-signed; the collateral has no VLEK")
            }
            certificates = [(.vlek, vlek), (.ask, collateral.asvk), (.ark, collateral.ark)]
        default:
            throw SimulatedHardwareError(
                .invalidRequest, "the report names signing key \(signer), neither VCEK nor VLEK")
        }
        return report + Self.certificateTable(certificates.map { ($0.0, $0.1.derRepresentation) })
    }

    /// A certificate table holding `certificates` (role, DER) in order, as an extended report carries it after the
    /// report (GUID, offset and length per entry, an all-zero entry, then the certificates).
    public static func certificateTable(_ certificates: [(SEVSNPEvidence.CertificateRole, [UInt8])]) -> [UInt8] {
        let header = 24 * (certificates.count + 1)
        var entries: [UInt8] = []
        var body: [UInt8] = []
        func u32(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(value).littleEndian, Array.init) }
        for (role, der) in certificates {
            entries +=
                (hexDecoded(role.rawValue.filter { $0 != "-" }) ?? []) + u32(header + body.count) + u32(der.count)
            body += der
        }
        return entries + [UInt8](repeating: 0, count: 24) + body
    }
}
