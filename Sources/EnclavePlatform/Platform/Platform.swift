import Attestation
internal import CEnclaveSandbox
public import CloisterCrypto
import EnclaveProtocol
public import FoundationEssentials
public import SimulatedHardware

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
    /// Whether the vendor revoked this platform's certificate (and with it the simulated vendors' PCK, VCEK and
    /// Nitro leaf).
    public let isRevoked: Bool
    /// What the simulated vendors publish about the platform's TCB, which every kind of evidence follows.
    public let simulatedTCB: SimulatedTCB
    /// The simulated hardware vendors, what they have published and the SNP signers, loaded at first use.
    private let simulatedHardware: LazySimulatedHardware

    /// The simulated vendors, their publications and signers (loaded from the home at the first call).
    func hardware() throws -> SimulatedHardwareState { try simulatedHardware.get() }

    /// The simulated vendors' roots (what verifiers of the platform's SGX, TDX, SEV-SNP and Nitro evidence pin), as
    /// the home publishes them.
    public var vendorRoots: VendorRoots {
        get throws { try VendorRoots(encoded: generation.read(.vendorRoots), path: generation.path(of: .vendorRoots)) }
    }
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
    /// The generation of the home's files this platform was loaded from.
    let generation: PlatformGeneration

    /// How long the platform's certificates and CRLs are valid.
    static let rootLifetime: TimeInterval = 20 * 365 * 86400
    static let platformLifetime: TimeInterval = 10 * 365 * 86400
    static let attestationKeyLifetime: TimeInterval = 5 * 365 * 86400
    static let crlLifetime: TimeInterval = 365 * 86400
    /// Backdating of `notBefore`, for verifiers whose clocks run a little behind.
    static let clockSkew: TimeInterval = 300

    /// Loads the platform in `home` after checking its permissions and that its files agree with each other.
    public convenience init(opening home: PlatformHome) throws {
        try self.init(loading: home, locked: false)
    }

    /// Loads the current generation; `locked` when the caller already holds the home's lock.
    private init(loading home: PlatformHome, locked: Bool) throws {
        let load = {
            try home.checkPrivate()
            let generation = try home.currentGeneration()
            return (generation, try PlatformState(encoded: generation.read(.state), path: generation.path(of: .state)))
        }
        let (generation, state) = try locked ? load() : home.withLock(.shared, load)
        self.home = home
        self.platformID = state.platformID
        self.tcbLevel = state.tcbLevel
        self.curve = state.curve
        self.isRevoked = state.isRevoked
        self.simulatedTCB = state.simulatedTCB
        simulatedHardware = LazySimulatedHardware(generation, tcb: state.simulatedTCB)
        rootCertificate = try Self.certificate(generation, .rootCertificate)
        platformCertificate = try Self.certificate(generation, .platformCertificate)
        attestationCertificate = try Self.certificate(generation, .attestationCertificate)
        attestationKey = try Self.privateKey(generation, .attestationKey)
        do {
            revocationLists = try CertificateRevocationList.lists(fromPEM: generation.readText(.revocationLists))
        } catch let error as PlatformError {
            throw error
        } catch {
            throw PlatformError(
                .corruptState, "\(generation.path(of: .revocationLists)) holds an unreadable CRL: \(error)")
        }
        tcbStatusList = try generation.read(.tcbStatus)
        var secret = try generation.read(.deviceSecret)
        defer { secret.withUnsafeMutableBytes { cloister_secret_wipe($0.baseAddress, $0.count) } }
        keys = try PlatformKeyDeriver(deviceSecret: secret, tcbLevel: state.tcbLevel)
        let counterKey = try keys.counterAuthenticationKey()
        do {
            counters = try MonotonicCounterStore(directory: home.countersDirectory, authenticationKey: counterKey)
        } catch {
            throw PlatformError(.corruptState, "cannot open the counter store: \(error.reason)")
        }
        self.generation = generation
        guard try attestationCertificate.publicKey() == attestationKey.publicKey,
            PlatformCertificateExtensions.platformID(of: platformCertificate) == platformID,
            PlatformCertificateExtensions.tcbLevel(of: platformCertificate) == tcbLevel
        else {
            throw PlatformError(
                .corruptState,
                "\(generation.directory): the certificates do not match the attestation key or the platform state")
        }
    }

    // MARK: Vendor operations

    /// The sizes the AMD-shaped vendor's RSA keys may take (AMD's own are 4096 bits).
    public static let amdKeySizes = [2048, 3072, 4096]

    /// Creates a platform in `home`: a root CA, a platform CA certificate carrying a fresh random platform id and
    /// TCB level 1, an attestation key certificate, the device root secret, empty CRLs, a TCB-status list and the
    /// counter directory, every key on `curve`; and the simulated vendors (`PlatformVendors`), the AMD-shaped one's
    /// RSA keys of `amdKeyBits` (4096 as AMD's; 2048 makes `initialize` about ten times faster), their certificates'
    /// CRL distribution points naming the collateral service at `collateralURL`. The files become
    /// the home's first generation in one rename, so an interrupted `initialize` leaves no platform and can simply be
    /// run again.
    @discardableResult
    public static func initialize(
        home: PlatformHome, curve: ECCurve = .p256, amdKeyBits: Int = 4096,
        collateralURL: String = SimulatedCollateralService.defaultURL, at now: Date = Date()
    ) throws -> Platform {
        guard SimulatedCollateralService.isValid(collateralURL) else {
            throw PlatformError(
                .invalidRequest,
                "the collateral URL \(collateralURL) is not http(s)://HOST[:PORT][/PATH] without a trailing slash or query"
            )
        }
        guard amdKeySizes.contains(amdKeyBits) else {
            throw PlatformError(
                .invalidRequest, "the simulated AMD keys are 2048, 3072 or 4096 bits, not \(amdKeyBits)")
        }
        try home.create()
        try home.withLock(.exclusive) {
            guard !home.isInitialized else {
                throw PlatformError(
                    .alreadyInitialized,
                    "\(home.path) already holds a platform; remove the directory to start over")
            }
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
            var files: [PlatformHome.File: [UInt8]] = [
                .rootKey: Array(rootKey.pkcs8PEMRepresentation.utf8),
                .platformKey: Array(platformKey.pkcs8PEMRepresentation.utf8),
                .attestationKey: Array(attestationKey.pkcs8PEMRepresentation.utf8),
                .deviceSecret: try SecureRandom.bytes(count: PlatformKeyDeriver.deviceSecretByteCount),
                .rootCertificate: Array(root.certificate.pemRepresentation.utf8),
                .platformCertificate: Array(platformCA.certificate.pemRepresentation.utf8),
                .attestationCertificate: Array(attestation.pemRepresentation.utf8),
            ]
            let vendors = try PlatformVendors.create(
                platformID: platformID, amdKeyBits: amdKeyBits, collateralURL: collateralURL, at: now)
            try files.merge(vendors.files) { $1 }
            try files.merge(publication(state, root: root, platformCA: platformCA, vendors: vendors, at: now)) { $1 }
            try home.removeGenerations(except: nil)
            try home.commitGeneration(files, after: nil)
        }
        return try Platform(opening: home)
    }

    /// Moves the platform to TCB level `level` (as a firmware update would): reissues the platform certificate
    /// stating it, and publishes a TCB-status list in which every level below the highest yet set is out of date.
    @discardableResult
    public static func setTCBLevel(_ level: UInt32, home: PlatformHome, at now: Date = Date()) throws -> Platform {
        guard level >= 1 else { throw PlatformError(.invalidRequest, "TCB levels start at 1, got \(level)") }
        return try changing(home) { current in
            guard !current.isRevoked else {
                throw PlatformError(
                    .invalidRequest, "the platform certificate is revoked; initialise a new platform instead")
            }
            var state = try current.state
            state.tcbLevel = level
            state.latestTCBLevel = max(state.latestTCBLevel, level)
            let root = try current.vendor()
            let platformCA = try issuePlatformCertificate(
                root: root, key: privateKey(current.generation, .platformKey), state: state, at: now)
            var files = try publication(
                state, root: root, platformCA: platformCA, vendors: current.hardware().vendors, at: now)
            files[.platformCertificate] = Array(platformCA.certificate.pemRepresentation.utf8)
            return files
        }
    }

    /// Publishes a TCB recovery (as a vendor does after a security advisory): the latest level rises by one while the
    /// platform stays where it is, so its level is out of date in every vendor's collateral, with the recovery's
    /// advisory (`SimulatedTCB.advisoryID(recoveryTo:)`), until `setTCBLevel` moves it up.
    @discardableResult
    public static func publishTCBRecovery(home: PlatformHome, at now: Date = Date()) throws -> Platform {
        try changing(home) { current in
            var state = try current.state
            state.latestTCBLevel += 1
            return try current.republish(state, at: now)
        }
    }

    /// Says (or, with `false`, stops saying) that the platform's configuration needs attention at its level:
    /// Intel's collateral then states ConfigurationNeeded for it.
    @discardableResult
    public static func setConfigurationNeeded(_ needed: Bool, home: PlatformHome, at now: Date = Date()) throws
        -> Platform
    {
        try changing(home) { current in
            var state = try current.state
            guard state.configurationNeeded != needed else { return nil }
            state.configurationNeeded = needed
            return try current.republish(state, at: now)
        }
    }

    /// The files publishing `state` with the current platform certificate.
    private func republish(_ state: PlatformState, at now: Date) throws -> [PlatformHome.File: [UInt8]] {
        let platformCA = try CertificateAuthority(
            certificate: platformCertificate, privateKey: Self.privateKey(generation, .platformKey))
        return try Self.publication(state, root: vendor(), platformCA: platformCA, vendors: hardware().vendors, at: now)
    }

    /// Revokes the platform certificate in the root's CRL (as a vendor revokes a compromised part).
    @discardableResult
    public static func revoke(home: PlatformHome, at now: Date = Date()) throws -> Platform {
        try changing(home) { current in
            var state = try current.state
            guard !state.isRevoked else { return nil }
            state.revoked.append(
                RevokedCertificate(serialNumber: current.platformCertificate.serialNumber, revocationDate: now))
            state.isRevoked = true
            return try current.republish(state, at: now)
        }
    }

    /// Runs a vendor operation holding the home alone: loads the current platform, removes what an interrupted
    /// change left, and commits the files `change` returns (nothing when it returns nil) as the next generation.
    private static func changing(
        _ home: PlatformHome, _ change: (Platform) throws -> [PlatformHome.File: [UInt8]]?
    ) throws -> Platform {
        try home.withLock(.exclusive) {
            let current = try Platform(loading: home, locked: true)
            try home.removeGenerations(except: current.generation)
            if let files = try change(current) {
                try home.commitGeneration(files, after: current.generation)
            }
        }
        return try Platform(opening: home)
    }

    /// The files a change of state publishes: new CRLs (the next CRL number), a TCB-status list, the state, and each
    /// simulated vendor's collateral for the new TCB.
    private static func publication(
        _ state: PlatformState, root: CertificateAuthority, platformCA: CertificateAuthority, vendors: PlatformVendors,
        at now: Date
    ) throws -> [PlatformHome.File: [UInt8]] {
        var state = state
        state.crlNumber += 1
        let rootCRL = try root.issueCRL(
            number: state.crlNumber, thisUpdate: now - clockSkew, nextUpdate: now + crlLifetime, revoked: state.revoked)
        let platformCRL = try platformCA.issueCRL(
            number: state.crlNumber, thisUpdate: now - clockSkew, nextUpdate: now + crlLifetime, revoked: [])
        let list = TCBStatusList(platformID: state.platformID, latestLevel: state.latestTCBLevel, issued: now)
        var files: [PlatformHome.File: [UInt8]] = [
            .revocationLists: Array((rootCRL.pemRepresentation + platformCRL.pemRepresentation).utf8),
            .tcbStatus: try list.signed(with: root.privateKey),
            .state: try state.encoded(),
        ]
        try files.merge(
            vendors.publication(state.simulatedTCB, crlNumber: state.crlNumber, at: now)
        ) { $1 }
        return files
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
        try CertificateAuthority(certificate: rootCertificate, privateKey: Self.privateKey(generation, .rootKey))
    }

    private var state: PlatformState {
        get throws { try PlatformState(encoded: generation.read(.state), path: generation.path(of: .state)) }
    }

    // MARK: Loading

    private static func certificate(_ generation: PlatformGeneration, _ file: PlatformHome.File) throws
        -> X509Certificate
    {
        do {
            return try X509Certificate(pemRepresentation: generation.readText(file))
        } catch let error as PlatformError {
            throw error
        } catch {
            throw PlatformError(.corruptState, "\(generation.path(of: file)) is not a PEM certificate: \(error)")
        }
    }

    private static func privateKey(_ generation: PlatformGeneration, _ file: PlatformHome.File) throws
        -> ECPrivateKey
    {
        do {
            return try ECPrivateKey(pemRepresentation: generation.readText(file))
        } catch let error as PlatformError {
            throw error
        } catch {
            throw PlatformError(.corruptState, "\(generation.path(of: file)) is not a PEM private key: \(error)")
        }
    }
}
