public import Attestation
import CloisterCBOR
public import CloisterCrypto
public import FoundationEssentials

/// AWS's side of one simulated platform, in Nitro's shape: a root, a regional, a zonal and an instance CA (ECDSA
/// P-384 signing with SHA-384, as AWS's chain), and the enclave-signing leaf under them; with them, attestation
/// documents with exactly Nitro's fields (no `cloister` map), ES384 COSE_Sign1.
///
/// Rules (docs/ARCHITECTURE.md, "Simulated hardware"): every certificate says it is simulated (O = "Cloister
/// Simulated Hardware", CN = "Cloister Simulated Nitro …"; never AWS's names) and carries Cloister's platform-id
/// extension, so the verifier classes the documents as simulated whatever root they are checked against. PCR0 is the
/// enclave measurement, PCR8 the signer id, every other of PCRs 0–15 zero, and a debug enclave's PCRs are all zero, as
/// Nitro's debug mode makes them. The document binds the nonce, user data and public key in its own fields. AWS
/// issues a leaf per enclave for three hours; the simulator keeps one leaf per platform (valid as long as its
/// instance CA), so a document costs one signature. AWS publishes no CRLs; the simulator's CAs each publish one, in
/// which the instance CA lists the leaf once the platform is revoked.
public struct SimulatedNitroVendor: Sendable {
    /// The CAs, the root first, and the leaf; with their keys.
    let authorities: [CertificateAuthority]
    let leaf: X509Certificate
    let leafKey: ECPrivateKey
    let platformID: [UInt8]

    /// The root verifiers pin for this platform's Nitro-shaped documents.
    public var rootCertificate: X509Certificate { authorities[0].certificate }

    static let caLifetime: TimeInterval = 20 * 365 * 86400
    static let leafLifetime: TimeInterval = 5 * 365 * 86400
    static let crlLifetime: TimeInterval = 365 * 86400
    static let clockSkew: TimeInterval = 300

    /// Creates the vendor's CAs and the platform's leaf.
    public static func create(platformID: [UInt8], at now: Date) throws -> SimulatedNitroVendor {
        let marker = PlatformCertificateExtensions.platformID(platformID)
        var authorities = [
            try CertificateAuthority.selfSigned(
                profile("Cloister Simulated Nitro Root", ca: 3, now), privateKey: ECPrivateKey(generating: .p384))
        ]
        for (name, depth) in [("Regional", 2), ("Zonal", 1), ("Instance", 0)] {
            let key = try ECPrivateKey(generating: .p384)
            var profile = profile("Cloister Simulated Nitro \(name) CA", ca: depth, now)
            profile.customExtensions = [marker]
            let certificate = try authorities[authorities.count - 1].issue(profile, for: key.publicKey)
            authorities.append(try CertificateAuthority(certificate: certificate, privateKey: key))
        }
        let leafKey = try ECPrivateKey(generating: .p384)
        let leaf = try authorities[authorities.count - 1].issue(
            CertificateProfile(
                subject: subject("Cloister Simulated Nitro Enclave \(hexEncoded(Array(platformID.prefix(8))))"),
                notValidBefore: now - clockSkew, notValidAfter: now + leafLifetime, isCertificateAuthority: false,
                keyUsage: [.digitalSignature], customExtensions: [marker]),
            for: leafKey.publicKey)
        return SimulatedNitroVendor(authorities: authorities, leaf: leaf, leafKey: leafKey, platformID: platformID)
    }

    private static func profile(_ name: String, ca depth: Int, _ now: Date) -> CertificateProfile {
        CertificateProfile(
            subject: subject(name), notValidBefore: now - clockSkew, notValidAfter: now + caLifetime,
            isCertificateAuthority: true, pathLengthConstraint: depth, keyUsage: [.keyCertSign, .cRLSign])
    }

    static func subject(_ commonName: String) -> DistinguishedName {
        DistinguishedName(["O": "Cloister Simulated Hardware", "CN": commonName])
    }

    /// The CRLs of the four CAs at `tcb` (the instance CA's lists the leaf when the platform is revoked), numbered
    /// `number`.
    public func revocationLists(_ tcb: SimulatedTCB, number: UInt64, at now: Date) throws
        -> [CertificateRevocationList]
    {
        try authorities.enumerated().map { index, authority in
            let revoked =
                index == authorities.count - 1 && tcb.isRevoked
                ? [RevokedCertificate(serialNumber: leaf.serialNumber, revocationDate: now)] : []
            return try authority.issueCRL(
                number: number, thisUpdate: now - Self.clockSkew, nextUpdate: now + Self.crlLifetime,
                revoked: revoked)
        }
    }

    /// An attestation document for `enclave`, binding `nonce`, `userData` and `publicKey`, made at `now`.
    public func document(
        enclave: SimulatedEnclave, nonce: [UInt8]?, userData: [UInt8]?, publicKey: [UInt8]?, at now: Date
    ) throws -> [UInt8] {
        let zero = [UInt8](repeating: 0, count: 48)
        var pcrs = [UInt64: [UInt8]]()
        for index in UInt64(0)..<16 { pcrs[index] = zero }
        if !enclave.debug {
            pcrs[0] = enclave.measurement
            pcrs[8] = enclave.signer
        }
        let enclaveTag = DigestAlgorithm.sha256.hash(enclave.measurement).prefix(8)
        let document = AttestationDocument(
            moduleID: "i-\(hexEncoded(Array(platformID.prefix(8))))0-enc\(hexEncoded(Array(enclaveTag)))",
            digest: "SHA384", timestamp: now.millisecondsSince1970, pcrs: pcrs, certificate: leaf.derRepresentation,
            caBundle: authorities.map(\.certificate.derRepresentation), publicKey: publicKey, userData: userData,
            nonce: nonce)
        return try COSESign1(signing: document.encoded(), with: leafKey).encoded()
    }

    // MARK: Persistence

    private static let subject = "the simulated Nitro vendor"
    private static let names = ["root", "regional", "zonal", "instance", "leaf"]

    /// The deterministic CBOR map {"version": 1, "platform_id", and for each of root, regional, zonal, instance and
    /// leaf its key (`NAME_key`, PKCS#8 DER) and certificate (`NAME_certificate`, DER)}.
    public func encoded() throws -> [UInt8] {
        var record = VendorRecord(subject: Self.subject)
        record["version"] = .unsigned(1)
        record["platform_id"] = .bytes(platformID)
        let pairs = authorities.map { ($0.privateKey, $0.certificate) } + [(leafKey, leaf)]
        for (name, (key, certificate)) in zip(Self.names, pairs) {
            record["\(name)_key"] = .bytes(key.pkcs8DERRepresentation)
            record["\(name)_certificate"] = .bytes(certificate.derRepresentation)
        }
        return try record.encoded()
    }

    /// Reads what `encoded()` wrote; a refusal names the field at fault.
    public init(encoded bytes: [UInt8]) throws {
        let record = try VendorRecord(decoding: bytes, subject: Self.subject, version: 1)
        let platformID = try record.bytes("platform_id", count: PlatformCertificateExtensions.platformIDByteCount)
        var pairs: [(ECPrivateKey, X509Certificate)] = []
        for name in Self.names {
            let key = try record.ecKey("\(name)_key", curve: .p384)
            let certificate = try record.certificate("\(name)_certificate")
            guard try certificate.publicKey() == key.publicKey else {
                throw record.refusal("\(name)_certificate", "does not certify \(name)_key")
            }
            pairs.append((key, certificate))
        }
        self.init(
            authorities: try pairs.dropLast().map { try CertificateAuthority(certificate: $0.1, privateKey: $0.0) },
            leaf: pairs[4].1, leafKey: pairs[4].0, platformID: platformID)
    }

    private init(
        authorities: [CertificateAuthority], leaf: X509Certificate, leafKey: ECPrivateKey, platformID: [UInt8]
    ) {
        self.authorities = authorities
        self.leaf = leaf
        self.leafKey = leafKey
        self.platformID = platformID
    }
}
