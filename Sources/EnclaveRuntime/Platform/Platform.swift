import Attestation
internal import CEnclaveSandbox
public import CloisterCrypto
public import FoundationEssentials

/// A simulated TEE platform loaded from its home: the vendor PKI (root CA -> platform certificate carrying the
/// platform id and TCB level -> attestation-key certificate), the device root secret behind the key deriver, the
/// monotonic counters, and the published CRLs and TCB-status list.
///
/// This is the platform component of DESIGN.md's trust model: it alone reads the secret files. `open` loads what
/// launching and quoting need (never the root key); `initialize`, `setTCBLevel` and `revoke` act as the vendor and
/// load the root key for the moment they sign.
public final class Platform: Sendable {
    public let home: PlatformHome
    /// The platform's 16-byte id, as its certificate states it.
    public let platformID: [UInt8]
    /// The TCB level the platform runs at.
    public let tcbLevel: UInt32
    /// The curve of every platform key; quotes are ES256 on P-256, ES384 on P-384.
    public let curve: ECCurve
    /// Whether the vendor revoked this platform's certificate.
    public let isRevoked: Bool
    /// The root verifiers pin.
    public let rootCertificate: X509Certificate
    public let platformCertificate: X509Certificate
    public let attestationCertificate: X509Certificate
    /// The root's CRL (covering platform certificates) and the platform CA's CRL (covering attestation keys).
    public let revocationLists: [CertificateRevocationList]
    /// The signed TCB-status list, as published.
    public let tcbStatusList: [UInt8]
    /// The monotonic counters.
    public let counters: MonotonicCounterStore
    let keys: PlatformKeyDeriver
    let attestationKey: ECPrivateKey

    /// How long the platform's certificates and CRLs are valid.
    static let rootLifetime: TimeInterval = 20 * 365 * 86400
    static let platformLifetime: TimeInterval = 10 * 365 * 86400
    static let attestationKeyLifetime: TimeInterval = 5 * 365 * 86400
    static let crlLifetime: TimeInterval = 365 * 86400
    /// Backdating of `notBefore`, for verifiers whose clocks run a little behind.
    static let clockSkew: TimeInterval = 300

    /// Loads the platform in `home` after checking its permissions and that its files agree with each other.
    public init(opening home: PlatformHome) throws {
        try home.checkPrivate()
        let state = try PlatformState(encoded: home.read(.state), path: home.path(of: .state))
        self.home = home
        self.platformID = state.platformID
        self.tcbLevel = state.tcbLevel
        self.curve = state.curve
        self.isRevoked = state.isRevoked
        rootCertificate = try Self.certificate(home, .rootCertificate)
        platformCertificate = try Self.certificate(home, .platformCertificate)
        attestationCertificate = try Self.certificate(home, .attestationCertificate)
        attestationKey = try Self.privateKey(home, .attestationKey)
        do {
            revocationLists = try CertificateRevocationList.lists(fromPEM: home.readText(.revocationLists))
        } catch let error as PlatformError {
            throw error
        } catch {
            throw PlatformError(.corruptState, "\(home.path(of: .revocationLists)) holds an unreadable CRL: \(error)")
        }
        tcbStatusList = try home.read(.tcbStatus)
        var secret = try home.read(.deviceSecret)
        defer { secret.withUnsafeMutableBytes { cloister_secret_wipe($0.baseAddress, $0.count) } }
        keys = try PlatformKeyDeriver(deviceSecret: secret, tcbLevel: state.tcbLevel)
        do {
            counters = try MonotonicCounterStore(directory: home.countersDirectory)
        } catch {
            throw PlatformError(.corruptState, "cannot open the counter store: \(error.reason)")
        }
        guard try attestationCertificate.publicKey() == attestationKey.publicKey,
            PlatformCertificateExtensions.platformID(of: platformCertificate) == platformID,
            PlatformCertificateExtensions.tcbLevel(of: platformCertificate) == tcbLevel
        else {
            throw PlatformError(
                .corruptState,
                "\(home.path): the certificates do not match the attestation key or the platform state")
        }
    }

    // MARK: Vendor operations

    /// Creates a platform in `home`: a root CA, a platform CA certificate carrying a fresh random platform id and
    /// TCB level 1, an attestation key certificate, the device root secret, empty CRLs, a TCB-status list and the
    /// counter directory; every key on `curve`.
    @discardableResult
    public static func initialize(home: PlatformHome, curve: ECCurve = .p256, at now: Date = Date()) throws -> Platform
    {
        try home.create()
        let platformID = try SecureRandom.bytes(count: PlatformCertificateExtensions.platformIDByteCount)
        let rootKey = try ECPrivateKey(generating: curve)
        let platformKey = try ECPrivateKey(generating: curve)
        let attestationKey = try ECPrivateKey(generating: curve)
        let root = try CertificateAuthority.selfSigned(
            CertificateProfile(
                subject: DistinguishedName(["O": "Cloister Simulated Platform", "CN": "Cloister Platform Root CA"]),
                notValidBefore: now - clockSkew, notValidAfter: now + rootLifetime, isCertificateAuthority: true,
                pathLengthConstraint: 1, keyUsage: [.keyCertSign, .cRLSign]),
            privateKey: rootKey)
        let state = PlatformState(
            platformID: platformID, curve: curve, tcbLevel: 1, latestTCBLevel: 1, crlNumber: 0, revoked: [],
            isRevoked: false)
        let platformCA = try issuePlatformCertificate(root: root, key: platformKey, state: state, at: now)
        let attestation = try platformCA.issue(
            CertificateProfile(
                subject: DistinguishedName([
                    "O": "Cloister Simulated Platform", "CN": "Cloister Attestation Key \(hexEncoded(platformID))",
                ]),
                notValidBefore: now - clockSkew, notValidAfter: now + attestationKeyLifetime,
                isCertificateAuthority: false, keyUsage: [.digitalSignature]),
            for: attestationKey.publicKey)
        try home.write(.rootKey, text: rootKey.pkcs8PEMRepresentation)
        try home.write(.platformKey, text: platformKey.pkcs8PEMRepresentation)
        try home.write(.attestationKey, text: attestationKey.pkcs8PEMRepresentation)
        try home.write(.deviceSecret, SecureRandom.bytes(count: PlatformKeyDeriver.deviceSecretByteCount))
        try home.write(.rootCertificate, text: root.certificate.pemRepresentation)
        try home.write(.platformCertificate, text: platformCA.certificate.pemRepresentation)
        try home.write(.attestationCertificate, text: attestation.pemRepresentation)
        try publish(state, root: root, platformCA: platformCA, home: home, at: now)
        return try Platform(opening: home)
    }

    /// Moves the platform to TCB level `level` (as a firmware update would): reissues the platform certificate
    /// stating it, and publishes a TCB-status list in which every level below the highest yet set is out of date.
    @discardableResult
    public static func setTCBLevel(_ level: UInt32, home: PlatformHome, at now: Date = Date()) throws -> Platform {
        guard level >= 1 else { throw PlatformError(.invalidRequest, "TCB levels start at 1, got \(level)") }
        let current = try Platform(opening: home)
        guard !current.isRevoked else {
            throw PlatformError(
                .invalidRequest, "the platform certificate is revoked; initialise a new platform instead")
        }
        var state = try current.state
        state.tcbLevel = level
        state.latestTCBLevel = max(state.latestTCBLevel, level)
        let root = try current.vendor()
        let platformCA = try issuePlatformCertificate(
            root: root, key: privateKey(home, .platformKey), state: state, at: now)
        try home.write(.platformCertificate, text: platformCA.certificate.pemRepresentation)
        try publish(state, root: root, platformCA: platformCA, home: home, at: now)
        return try Platform(opening: home)
    }

    /// Revokes the platform certificate in the root's CRL (as a vendor revokes a compromised part).
    @discardableResult
    public static func revoke(home: PlatformHome, at now: Date = Date()) throws -> Platform {
        let current = try Platform(opening: home)
        var state = try current.state
        guard !state.isRevoked else { return current }
        state.revoked.append(
            RevokedCertificate(serialNumber: current.platformCertificate.serialNumber, revocationDate: now))
        state.isRevoked = true
        let platformCA = try CertificateAuthority(
            certificate: current.platformCertificate, privateKey: privateKey(home, .platformKey))
        try publish(state, root: current.vendor(), platformCA: platformCA, home: home, at: now)
        return try Platform(opening: home)
    }

    /// Signs new CRLs and a TCB-status list, then writes the state last, so a crash leaves the old state in force.
    private static func publish(
        _ state: PlatformState, root: CertificateAuthority, platformCA: CertificateAuthority, home: PlatformHome,
        at now: Date
    ) throws {
        var state = state
        state.crlNumber += 1
        let rootCRL = try root.issueCRL(
            number: state.crlNumber, thisUpdate: now - clockSkew, nextUpdate: now + crlLifetime, revoked: state.revoked)
        let platformCRL = try platformCA.issueCRL(
            number: state.crlNumber, thisUpdate: now - clockSkew, nextUpdate: now + crlLifetime, revoked: [])
        try home.write(.revocationLists, text: rootCRL.pemRepresentation + platformCRL.pemRepresentation)
        let list = TCBStatusList(platformID: state.platformID, latestLevel: state.latestTCBLevel, issued: now)
        try home.write(.tcbStatus, list.signed(with: root.privateKey))
        try home.write(.state, state.encoded())
    }

    private static func issuePlatformCertificate(
        root: CertificateAuthority, key: ECPrivateKey, state: PlatformState, at now: Date
    ) throws -> CertificateAuthority {
        let certificate = try root.issue(
            CertificateProfile(
                subject: DistinguishedName([
                    "O": "Cloister Simulated Platform", "CN": "Cloister Platform \(hexEncoded(state.platformID))",
                ]),
                notValidBefore: now - clockSkew, notValidAfter: now + platformLifetime, isCertificateAuthority: true,
                pathLengthConstraint: 0, keyUsage: [.keyCertSign, .cRLSign],
                customExtensions: [
                    PlatformCertificateExtensions.platformID(state.platformID),
                    PlatformCertificateExtensions.tcbLevel(state.tcbLevel),
                ]),
            for: key.publicKey)
        return try CertificateAuthority(certificate: certificate, privateKey: key)
    }

    /// The root CA with its private key.
    private func vendor() throws -> CertificateAuthority {
        try CertificateAuthority(certificate: rootCertificate, privateKey: Self.privateKey(home, .rootKey))
    }

    private var state: PlatformState {
        get throws { try PlatformState(encoded: home.read(.state), path: home.path(of: .state)) }
    }

    // MARK: Loading

    private static func certificate(_ home: PlatformHome, _ file: PlatformHome.File) throws -> X509Certificate {
        do {
            return try X509Certificate(pemRepresentation: home.readText(file))
        } catch let error as PlatformError {
            throw error
        } catch {
            throw PlatformError(.corruptState, "\(home.path(of: file)) is not a PEM certificate: \(error)")
        }
    }

    private static func privateKey(_ home: PlatformHome, _ file: PlatformHome.File) throws -> ECPrivateKey {
        do {
            return try ECPrivateKey(pemRepresentation: home.readText(file))
        } catch let error as PlatformError {
            throw error
        } catch {
            throw PlatformError(.corruptState, "\(home.path(of: file)) is not a PEM private key: \(error)")
        }
    }
}
