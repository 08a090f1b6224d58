public import CloisterCrypto
public import EnclaveProtocol
import Glibc

/// DESIGN.md invariant 6, the check: no path a manifest names may reach the platform's home.
///
/// A path is resolved as the kernel would walk it (every symbolic link followed, `..` taken after the link it follows,
/// `/proc/PID/root` and friends read as the links they are), then refused when it is the home, lies inside it or
/// above it, names a per-process entry of `/proc` (another process's root, environment or memory), or is another name
/// (a hard link) for one of the home's files. Components that do not exist are kept as written.
public struct HomeBoundary: Sendable {
    /// The home, resolved.
    public let resolvedHome: String
    private let home: PlatformHome
    /// (device, inode) of every file in the home.
    private let homeFiles: Set<FileIdentity>

    /// The boundary of `home`; the files of an existing home are listed for the hard-link check.
    public init(home: PlatformHome) throws {
        self.home = home
        resolvedHome = ManifestFile.resolve(home.path)
        var files: Set<FileIdentity> = []
        if access(home.path, F_OK) == 0 {
            for path in try home.allFiles() {
                if let identity = FileIdentity(path: path) { files.insert(identity) }
            }
        }
        homeFiles = files
    }

    /// Refuses `path`, which the manifest names at `keyPath`, when it can reach the home.
    public func check(_ path: String, keyPath: String) throws(ManifestError) {
        let resolved = ManifestFile.resolve(path)
        let shown = resolved == path ? "'\(path)'" : "'\(path)' (resolved: \(resolved))"
        if resolved == resolvedHome || resolved.hasPrefix(resolvedHome + "/") {
            throw refusal("\(shown) is inside the platform home \(home.path)", keyPath)
        }
        if resolved == "/" || resolvedHome.hasPrefix(resolved + "/") {
            throw refusal("\(shown) contains the platform home \(home.path)", keyPath)
        }
        if Self.isPerProcessEntry(resolved) {
            throw refusal(
                "\(shown) is a process's entry in /proc, through which an enclave reaches other processes' files "
                    + "and memory", keyPath)
        }
        if let identity = FileIdentity(path: resolved), homeFiles.contains(identity) {
            throw refusal(
                "\(shown) is another name (a hard link) for a file of the platform home \(home.path)", keyPath)
        }
    }

    /// Refuses every library of an executable's closure (`ExecutableImage.loadedLibraries()`) that can reach the
    /// home: Landlock lets the enclave read the libraries it maps.
    public func check(_ libraries: [LoadedLibrary]) throws(ManifestError) {
        for library in libraries {
            do {
                try check(library.path, keyPath: "loader.entrypoint")
            } catch {
                throw error.inFile(library.path)
            }
        }
    }

    private func refusal(_ what: String, _ keyPath: String) -> ManifestError {
        ManifestError(.invalidValue, "\(what); an enclave must never reach the platform's secrets", keyPath: keyPath)
    }

    /// `/proc` itself and `/proc/<pid>`, `/proc/self`, `/proc/thread-self` and everything under them.
    private static func isPerProcessEntry(_ resolved: String) -> Bool {
        guard resolved == "/proc" || resolved.hasPrefix("/proc/") else { return false }
        guard let entry = resolved.dropFirst("/proc/".count).split(separator: "/").first else { return true }
        return entry == "self" || entry == "thread-self" || entry.allSatisfy(\.isASCIIDigit)
    }
}

/// A file's (device, inode): the same file under any of its names.
struct FileIdentity: Hashable, Sendable {
    let device: UInt64
    let inode: UInt64

    /// The identity of the file `path` names (links followed), or nil when there is none.
    init?(path: String) {
        var status = stat()
        guard stat(path, &status) == 0 else { return nil }
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
    }
}

extension EnclaveManifest {
    /// Refuses the manifest when any trusted file or allowed path, resolved against `baseDirectory`, can reach the
    /// platform home `boundary` guards (DESIGN.md invariant 6); the error names the key.
    public func checkUnreachable(_ boundary: HomeBoundary, baseDirectory: String) throws(ManifestError) {
        for (index, file) in trustedFiles.enumerated() {
            try boundary.check(Self.resolve(file.path, against: baseDirectory), keyPath: "trusted_files[\(index)].uri")
        }
        for (index, allowed) in allowedPaths.enumerated() {
            try boundary.check(Self.resolve(allowed.path, against: baseDirectory), keyPath: "fs.allowed[\(index)].path")
        }
    }
}

extension SignedManifest {
    /// Reads the TOML manifest at `path`, hashes its trusted files, its executable and the libraries that loads, and
    /// signs it with `key`; with a `boundary`, first refuses a manifest whose paths or libraries reach that platform
    /// home (launch refuses it anyway).
    public static func sign(
        manifestAt path: String, with key: ECPrivateKey, locator: EnclaveExecutableLocator,
        boundary: HomeBoundary? = nil
    ) throws -> SignedManifest {
        let measured = try MeasuredManifest(tomlManifestAt: path, locator: locator)
        if let boundary {
            do {
                try measured.manifest.checkUnreachable(boundary, baseDirectory: ManifestFile.directoryName(of: path))
                try boundary.check(measured.libraries)
            } catch {
                throw error.inFile(path)
            }
        }
        return try SignedManifest(signing: measured, with: key)
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
