public import Attestation
public import CloisterCrypto
import CloisterErrors
import EnclaveProtocol
import Glibc
public import SimulatedHardware

/// The directory holding one simulated platform's state (`$CLOISTER_HOME`, default `~/.cloister`).
///
/// The platform's files form a *generation*, `generation-N/`, that is written whole and never changed; the file
/// `current` names the generation in force. A change to the platform (`tcb`, `revoke`) writes the next generation
/// complete, then switches `current` with one rename, then removes the old one, so a process killed at any point leaves
/// either the old platform or the new one, never a mix. Monotonic counters live beside the generations in
/// `counters/`, each file replaced atomically on its own.
///
/// The directory is 0700 and every file in it 0600, owned by the user and with one link: the platform refuses a home
/// that anyone else can read, that someone else owns, or whose files have another name elsewhere, naming the
/// offending path. Only the platform component opens the secret files (`*.key`, `device-secret`, `counters/`);
/// everything a verifier needs is exported by `cloister platform info`.
public struct PlatformHome: Sendable, Hashable {
    /// The environment variable naming the home.
    public static let environmentVariable = "CLOISTER_HOME"
    /// The file naming the current generation.
    static let currentGenerationFile = "current"
    /// The prefix of generation directories (`generation-1`, `generation-2`, ...).
    static let generationPrefix = "generation-"

    /// The home's path.
    public let path: String

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// `explicit` (`--home`), else `$CLOISTER_HOME`, else `$HOME/.cloister`.
    public static func resolve(_ explicit: String?, environment: [String: String]) -> PlatformHome {
        if let explicit { return PlatformHome(path: explicit) }
        if let home = environment[environmentVariable], !home.isEmpty { return PlatformHome(path: home) }
        return PlatformHome(path: (environment["HOME"] ?? "/root") + "/.cloister")
    }

    /// The files of a platform generation, by role.
    public enum File: String, Sendable, CaseIterable {
        case state = "platform.cbor"
        case rootCertificate = "root.pem"
        case rootKey = "root.key"
        case platformCertificate = "platform.pem"
        case platformKey = "platform.key"
        case attestationCertificate = "attestation-key.pem"
        case attestationKey = "attestation-key.key"
        case deviceSecret = "device-secret"
        case revocationLists = "crls.pem"
        case tcbStatus = "tcb-status.cose"
        /// The simulated vendors' keys and certificates (secret) and what they publish (`PlatformVendors`).
        case intelVendor = "intel.cbor"
        case intelCollateral = "intel-collateral.cbor"
        case amdVendor = "amd.cbor"
        case amdCollateral = "amd-collateral.cbor"
        case nitroVendor = "nitro.cbor"
        case nitroRevocationLists = "nitro-crls.pem"
        case vendorRoots = "vendor-roots.cbor"
    }

    /// The monotonic-counter directory.
    public var countersDirectory: String { path + "/counters" }

    /// Whether a platform has been initialised here (a generation was made current).
    public var isInitialized: Bool { access(path + "/" + Self.currentGenerationFile, F_OK) == 0 }

    /// The generation in force.
    public func currentGeneration() throws -> PlatformGeneration {
        let pointer = path + "/" + Self.currentGenerationFile
        let text: String
        do {
            text = String(decoding: try AtomicFile(path: pointer).read(), as: UTF8.self)
        } catch {
            throw PlatformError(.corruptState, "cannot read \(pointer): \(error.reason)")
        }
        guard let number = UInt64(text.trimmingSuffix("\n")), number >= 1 else {
            throw PlatformError(.corruptState, "\(pointer) does not name a generation (a positive number)")
        }
        return PlatformGeneration(home: self, number: number)
    }

    /// The path of `file` in the current generation.
    public func path(of file: File) throws -> String {
        try currentGeneration().path(of: file)
    }

    /// Creates the home (mode 0700) and its counter directory if absent.
    func create() throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw PlatformError(.corruptState, "cannot create the platform home \(path): \(errnoText(errno))")
        }
        guard chmod(path, 0o700) == 0 else {
            throw PlatformError(.insecurePermissions, "chmod 0700 \(path): \(errnoText(errno))")
        }
        try refuseEarlierLayout()
        if mkdir(countersDirectory, 0o700) != 0 && errno != EEXIST {
            throw PlatformError(.corruptState, "cannot create \(countersDirectory): \(errnoText(errno))")
        }
    }

    /// Refuses a home that is missing, not the user's, readable, writable or searchable by group or others, or holding
    /// a file with more than one link, checking the directory, every generation, the counter directory and their files.
    public func checkPrivate() throws {
        guard isInitialized else {
            throw PlatformError(
                .notInitialized,
                "no platform in \(path): run `cloister platform init --home \(path)` (or set \(Self.environmentVariable))"
            )
        }
        try refuseEarlierLayout()
        try Self.checkPrivate(path, directory: true)
        for entry in try Self.entries(path) {
            let entryPath = path + "/" + entry
            let isDirectory = entry == "counters" || entry.hasPrefix(Self.generationPrefix)
            try Self.checkPrivate(entryPath, directory: isDirectory)
            guard isDirectory else { continue }
            for file in try Self.entries(entryPath) {
                try Self.checkPrivate(entryPath + "/" + file, directory: false)
            }
        }
    }

    /// Every file of the platform: the generations' files, the counters and `current` (for hard-link comparisons).
    func allFiles() throws -> [String] {
        var files: [String] = []
        for entry in try Self.entries(path) {
            let entryPath = path + "/" + entry
            if entry == "counters" || entry.hasPrefix(Self.generationPrefix) {
                files += try Self.entries(entryPath).map { entryPath + "/" + $0 }
            } else {
                files.append(entryPath)
            }
        }
        return files
    }

    // MARK: Generations

    /// Whether a lock is shared by readers or held alone by one writer.
    enum LockKind {
        case shared, exclusive
    }

    /// Runs `body` holding a `flock` on the home directory: readers share it, a vendor operation holds it alone, so a
    /// reader never sees a generation being removed.
    func withLock<T>(_ kind: LockKind, _ body: () throws -> T) throws -> T {
        let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let error = errno
            if error == ENOENT {
                throw PlatformError(.notInitialized, "no platform home \(path): run `cloister platform init`")
            }
            throw PlatformError(.corruptState, "cannot open the platform home \(path): \(errnoText(error))")
        }
        defer { close(descriptor) }
        while flock(descriptor, kind == .shared ? LOCK_SH : LOCK_EX) != 0 {
            guard errno == EINTR else {
                throw PlatformError(.corruptState, "cannot lock the platform home \(path): \(errnoText(errno))")
            }
        }
        return try body()
    }

    /// Writes the generation after `current` (the first when nil) holding `changed` and, for every other file, the
    /// current generation's bytes; makes it current with one rename of `current`; removes every other generation.
    /// Call it holding the exclusive lock, after `removeGenerations(except: current)`.
    func commitGeneration(_ changed: [File: [UInt8]], after current: PlatformGeneration?) throws {
        let next = PlatformGeneration(home: self, number: (current?.number ?? 0) + 1)
        guard mkdir(next.directory, 0o700) == 0 else {
            throw PlatformError(.corruptState, "cannot create \(next.directory): \(errnoText(errno))")
        }
        for file in File.allCases {
            guard let bytes = try changed[file] ?? current?.read(file) else {
                throw PlatformError(.corruptState, "the first generation of \(path) lacks \(file.rawValue)")
            }
            try write(AtomicFile(path: next.path(of: file), mode: 0o600), bytes)
        }
        try write(
            AtomicFile(path: path + "/" + Self.currentGenerationFile, mode: 0o600), Array("\(next.number)\n".utf8))
        try removeGenerations(except: next)
    }

    /// Removes every generation directory but `kept`, and temporary files a killed writer left in the home.
    /// Call it holding the exclusive lock.
    func removeGenerations(except kept: PlatformGeneration?) throws {
        do throws(PersistenceError) {
            for entry in try AtomicFile.entries(of: path)
            where entry.hasPrefix(Self.generationPrefix) && entry != kept?.directoryName {
                let directory = path + "/" + entry
                for file in try AtomicFile.entries(of: directory) {
                    try AtomicFile(path: directory + "/" + file).remove()
                }
                guard rmdir(directory) == 0 else { throw .systemCall("rmdir", directory) }
            }
            try AtomicFile.removeStaleTemporaries(in: path)
            try AtomicFile.syncDirectory(path)
        } catch {
            throw PlatformError(.corruptState, "cannot remove an old generation of \(path): \(error.reason)")
        }
    }

    private func write(_ file: AtomicFile, _ bytes: [UInt8]) throws {
        do {
            try file.write(bytes)
        } catch {
            throw PlatformError(.corruptState, "cannot write \(file.path): \(error.reason)")
        }
    }

    /// Refuses a home written by Cloister before generations (its files at the top level).
    private func refuseEarlierLayout() throws {
        guard access(path + "/" + File.state.rawValue, F_OK) != 0 else {
            throw PlatformError(
                .corruptState,
                "\(path) holds a platform in the layout of an earlier Cloister (files at the top level, no "
                    + "generations): remove the directory and run `cloister platform init --home \(path)`")
        }
    }

    private static func entries(_ directory: String) throws -> [String] {
        do {
            return try AtomicFile.entries(of: directory)
        } catch {
            throw PlatformError(.corruptState, "cannot list \(directory): \(error.reason)")
        }
    }

    private static func checkPrivate(_ path: String, directory: Bool) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            throw PlatformError(.corruptState, "cannot stat \(path): \(errnoText(errno))")
        }
        let kind = status.st_mode & S_IFMT
        guard kind == (directory ? S_IFDIR : S_IFREG) else {
            throw PlatformError(
                .insecurePermissions,
                "\(path) is not a \(directory ? "directory" : "regular file") (symbolic links are refused)")
        }
        guard status.st_uid == geteuid() else {
            throw PlatformError(
                .insecurePermissions, "\(path) is owned by uid \(status.st_uid), not by this user (uid \(geteuid()))")
        }
        let mode = status.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw PlatformError(
                .insecurePermissions,
                "\(path) has mode \(String(mode, radix: 8)): others can reach the platform's secrets; "
                    + "it must be \(directory ? "0700" : "0600") (chmod go= \(path))")
        }
        guard directory || status.st_nlink == 1 else {
            throw PlatformError(
                .insecurePermissions,
                "\(path) has \(status.st_nlink) links: another name for a platform file reaches its secrets from "
                    + "outside the home; remove the other links (find / -samefile \(path))")
        }
    }
}

/// One complete set of a platform's files (`generation-N/` in the home), written whole and never changed.
public struct PlatformGeneration: Sendable, Hashable {
    public let home: PlatformHome
    /// The generation's number, counting from 1 at `init`.
    public let number: UInt64

    var directoryName: String { PlatformHome.generationPrefix + String(number) }

    /// The generation's directory.
    public var directory: String { home.path + "/" + directoryName }

    /// The path of `file` in this generation.
    public func path(of file: PlatformHome.File) -> String { directory + "/" + file.rawValue }

    /// Reads `file`.
    func read(_ file: PlatformHome.File) throws -> [UInt8] {
        do {
            return try AtomicFile(path: path(of: file)).read()
        } catch {
            throw PlatformError(.corruptState, "cannot read \(path(of: file)): \(error.reason)")
        }
    }

    /// Reads `file` as UTF-8 text.
    func readText(_ file: PlatformHome.File) throws -> String {
        String(decoding: try read(file), as: UTF8.self)
    }
}

/// What a platform publishes for verifiers (no secrets): its root, its CRLs and its signed TCB-status list, and its
/// simulated vendors' roots and collateral.
public struct PublishedPlatformTrust: Sendable {
    public let rootCertificate: X509Certificate
    public let revocationLists: [CertificateRevocationList]
    public let tcbStatusList: [UInt8]
    public let vendorRoots: VendorRoots
    /// What the Intel- and AMD-shaped vendors publish (their PCS and KDS serve it: `SimulatedPCS`, `SimulatedKDS`).
    public let intelCollateral: SimulatedIntelCollateral
    public let amdCollateral: SimulatedAMDCollateral
    /// The Intel-shaped vendor's QuoteCollateralV3 JSON for SGX and for TDX quotes.
    public let sgxCollateral: [UInt8]
    public let tdxCollateral: [UInt8]
    /// The AMD-shaped vendor's CRLs and the certificates its chains use (ASK, ASVK, the platform's VCEK and VLEK).
    public let amdRevocationLists: [CertificateRevocationList]
    public let amdCertificates: [X509Certificate]
    /// The Nitro-shaped vendor's CRLs.
    public let nitroRevocationLists: [CertificateRevocationList]

    /// A trust store for this platform's evidence of every kind: each format's simulated root pinned, its CRLs and
    /// collateral consulted.
    public var trustStore: TrustStore {
        TrustStore([
            .cloister: TrustStore.FormatTrust(
                roots: [rootCertificate], revocationLists: revocationLists, collateral: [tcbStatusList]),
            .nitro: TrustStore.FormatTrust(roots: [vendorRoots.nitro], revocationLists: nitroRevocationLists),
            .sgx: TrustStore.FormatTrust(roots: [vendorRoots.intel], collateral: [sgxCollateral]),
            .tdx: TrustStore.FormatTrust(roots: [vendorRoots.intel], collateral: [tdxCollateral]),
            .snp: TrustStore.FormatTrust(
                roots: [vendorRoots.amd], revocationLists: amdRevocationLists,
                collateral: amdCertificates.map(\.derRepresentation)),
        ])
    }
}

extension PlatformHome {
    /// Reads only the public files of the platform in this home.
    public func publishedTrust() throws -> PublishedPlatformTrust {
        guard isInitialized else {
            throw PlatformError(.notInitialized, "no platform in \(path): run `cloister platform init --home \(path)`")
        }
        return try withLock(.shared) {
            let generation = try currentGeneration()
            do {
                let published = try VendorPublication(generation)
                let (intel, amd) = (published.intel, published.amd)
                return PublishedPlatformTrust(
                    rootCertificate: try X509Certificate(pemRepresentation: generation.readText(.rootCertificate)),
                    revocationLists: try CertificateRevocationList.lists(
                        fromPEM: generation.readText(.revocationLists)),
                    tcbStatusList: try generation.read(.tcbStatus),
                    vendorRoots: try VendorRoots(
                        encoded: generation.read(.vendorRoots), path: generation.path(of: .vendorRoots)),
                    intelCollateral: intel, amdCollateral: amd,
                    sgxCollateral: try intel.quoteCollateralJSON(tee: .sgx),
                    tdxCollateral: try intel.quoteCollateralJSON(tee: .tdx),
                    amdRevocationLists: [amd.crl],
                    amdCertificates: [amd.ask, amd.asvk, amd.vcek] + (amd.vlek.map { [$0] } ?? []),
                    nitroRevocationLists: published.nitroRevocationLists)
            } catch let error as PlatformError {
                throw error
            } catch {
                throw PlatformError(
                    .corruptState,
                    "\(generation.directory) holds an unreadable root certificate, CRL or vendor collateral: \(error)")
            }
        }
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> Substring {
        hasSuffix(suffix) ? dropLast(suffix.count) : self[...]
    }
}
