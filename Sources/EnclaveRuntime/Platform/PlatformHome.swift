public import Attestation
public import CloisterCrypto
import Glibc

/// The directory holding one simulated platform's state (`$CLOISTER_HOME`, default `~/.cloister`).
///
/// The directory is 0700 and every file in it 0600, owned by the user: the platform refuses a home that anyone else
/// can read or that someone else owns, naming the offending path. Only the platform component opens the secret
/// files (`*.key`, `device-secret`, `counters/`); everything a verifier needs is exported by `cloister platform info`.
public struct PlatformHome: Sendable, Hashable {
    /// The environment variable naming the home.
    public static let environmentVariable = "CLOISTER_HOME"

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

    /// The files of a platform, by role.
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
    }

    /// The monotonic-counter directory.
    public var countersDirectory: String { path + "/counters" }

    /// The path of `file`.
    public func path(of file: File) -> String { path + "/" + file.rawValue }

    /// Whether a platform has been initialised here.
    public var isInitialized: Bool { access(path(of: .state), F_OK) == 0 }

    /// Creates the home (mode 0700) if absent; refuses one that is already a platform's.
    func create() throws {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw PlatformError(.corruptState, "cannot create the platform home \(path): \(errnoText(errno))")
        }
        guard !isInitialized else {
            throw PlatformError(
                .alreadyInitialized,
                "\(path) already holds a platform (\(File.state.rawValue)); remove the directory to start over")
        }
        guard chmod(path, 0o700) == 0 else {
            throw PlatformError(.insecurePermissions, "chmod 0700 \(path): \(errnoText(errno))")
        }
        if mkdir(countersDirectory, 0o700) != 0 && errno != EEXIST {
            throw PlatformError(.corruptState, "cannot create \(countersDirectory): \(errnoText(errno))")
        }
    }

    /// Refuses a home that is missing, not the user's, or readable, writable or searchable by group or others,
    /// checking the directory, every file in it and the counter directory's files.
    public func checkPrivate() throws {
        guard isInitialized else {
            throw PlatformError(
                .notInitialized,
                "no platform in \(path): run `cloister platform init --home \(path)` (or set \(Self.environmentVariable))"
            )
        }
        try Self.checkPrivate(path, directory: true)
        for entry in try Self.entries(path) {
            try Self.checkPrivate(path + "/" + entry, directory: entry == "counters")
        }
        for entry in try Self.entries(countersDirectory) {
            try Self.checkPrivate(countersDirectory + "/" + entry, directory: false)
        }
    }

    /// Reads `file`, refusing a symbolic link.
    func read(_ file: File) throws -> [UInt8] {
        do {
            return try AtomicFile(path: path(of: file)).read()
        } catch {
            throw PlatformError(.corruptState, "cannot read \(path(of: file)): \(error.reason)")
        }
    }

    /// Reads `file` as UTF-8 text.
    func readText(_ file: File) throws -> String {
        String(decoding: try read(file), as: UTF8.self)
    }

    /// Replaces `file` atomically with mode 0600.
    func write(_ file: File, _ bytes: [UInt8]) throws {
        try AtomicFile(path: path(of: file), mode: 0o600).write(bytes)
    }

    func write(_ file: File, text: String) throws {
        try write(file, Array(text.utf8))
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
    }
}

/// What a platform publishes for verifiers: its root, its CRLs and its signed TCB-status list (no secrets).
public struct PublishedPlatformTrust: Sendable {
    public let rootCertificate: X509Certificate
    public let revocationLists: [CertificateRevocationList]
    public let tcbStatusList: [UInt8]

    /// A trust store for this platform's quotes: its root pinned, its CRLs and TCB-status list consulted.
    public var trustStore: TrustStore {
        TrustStore(
            cloisterRoots: [rootCertificate], cloisterRevocationLists: revocationLists, tcbStatusLists: [tcbStatusList])
    }
}

extension PlatformHome {
    /// Reads only the public files of the platform in this home.
    public func publishedTrust() throws -> PublishedPlatformTrust {
        guard isInitialized else {
            throw PlatformError(.notInitialized, "no platform in \(path): run `cloister platform init --home \(path)`")
        }
        do {
            return PublishedPlatformTrust(
                rootCertificate: try X509Certificate(pemRepresentation: readText(.rootCertificate)),
                revocationLists: try CertificateRevocationList.lists(fromPEM: readText(.revocationLists)),
                tcbStatusList: try read(.tcbStatus))
        } catch let error as PlatformError {
            throw error
        } catch {
            throw PlatformError(.corruptState, "\(path) holds an unreadable root certificate or CRL: \(error)")
        }
    }
}
