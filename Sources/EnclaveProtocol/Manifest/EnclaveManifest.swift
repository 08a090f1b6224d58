internal import CEnclaveSandbox

/// An enclave manifest: what to run, with which identity and resources, and what it may touch.
///
/// Read one from Gramine-style TOML with `EnclaveManifest(toml:)` (format in `Manifests/README.md`); its measured
/// form is `canonicalEncoding()`. Paths and URIs are kept as written, so the measurement does not depend on where the
/// manifest lies; `resolve(_:against:)` turns a relative one into a path beside the manifest.
public struct EnclaveManifest: Sendable, Hashable {
    /// The program the enclave runs (`loader.entrypoint`).
    public enum Entrypoint: Sendable, Hashable, CustomStringConvertible {
        /// A workload built into the `cloister-enclave` executable, by name (`builtin:echo`).
        case builtin(String)
        /// An executable built against the runtime library, by path (`file:bin/trainer`), relative to the manifest.
        case file(String)

        /// The entrypoint as written in a manifest.
        public var description: String {
            switch self {
            case .builtin(let name): "builtin:\(name)"
            case .file(let path): "file:\(path)"
            }
        }
    }

    /// A named sealed memory region (`enclave.regions.NAME = SIZE`).
    public struct SealedRegion: Sendable, Hashable {
        /// The region's name.
        public var name: String
        /// Its size in bytes, a multiple of `EnclaveManifest.pageSize`.
        public var size: UInt64

        /// A region called `name` of `size` bytes.
        public init(name: String, size: UInt64) {
            self.name = name
            self.size = size
        }
    }

    /// A file whose content is part of the enclave's identity (`[[trusted_files]]`).
    public struct TrustedFile: Sendable, Hashable {
        /// The URI as written: `file:` followed by a path, absolute or relative to the manifest's directory.
        public var uri: String
        /// SHA-384 of the file's content; nil until `cloister sign` (or measuring) fills it.
        public var sha384: [UInt8]?

        /// A trusted file at `uri`, with its hash when known.
        public init(uri: String, sha384: [UInt8]? = nil) {
            self.uri = uri
            self.sha384 = sha384
        }

        /// The path part of the URI, as written.
        public var path: String { String(uri.dropFirst(TrustedFile.scheme.count)) }

        static let scheme = "file:"
    }

    /// A path the enclave may use (`fs.allowed`), as written; `rule(against:)` resolves it.
    public struct AllowedPath: Sendable, Hashable {
        /// Absolute, or relative to the manifest's directory.
        public var path: String
        /// Read-only (`ro`) or read-write (`rw`).
        public var access: FilesystemRule.Access

        /// Access `access` beneath `path`.
        public init(path: String, access: FilesystemRule.Access) {
            self.path = path
            self.access = access
        }

        /// The Landlock rule for this path, resolved against the manifest's directory.
        public func rule(against baseDirectory: String) -> FilesystemRule {
            FilesystemRule(EnclaveManifest.resolve(path, against: baseDirectory), access)
        }
    }

    /// The enclave's name (`enclave.name`).
    public var name: String
    /// What the enclave runs (`loader.entrypoint`).
    public var entrypoint: Entrypoint
    /// The workload's argument vector (`loader.argv`).
    public var arguments: [String]
    /// The workload's environment (`loader.env`); nothing else from the host's environment reaches it.
    public var environment: [String: String]
    /// The resident budget in bytes (`enclave.size`): sealed-region pages beyond it are evicted, encrypted.
    public var size: UInt64
    /// The product id (`enclave.product_id`), bound into sealing keys and quotes.
    public var productID: UInt16
    /// The security version (`enclave.svn`): sealed data opens after an upgrade, never after a downgrade.
    public var svn: UInt16
    /// Whether the enclave is a debug enclave (`enclave.debug`); quotes say so and verifiers reject it by default.
    public var debug: Bool
    /// The sealed memory regions (`enclave.regions`), sorted by name.
    public var regions: [SealedRegion]
    /// The trusted files (`trusted_files`), in the order written.
    public var trustedFiles: [TrustedFile]
    /// The filesystem paths the enclave may use (`fs.allowed`), in the order written.
    public var allowedPaths: [AllowedPath]
    /// The seccomp allow-list (`seccomp.allow`), or nil for no syscall filter.
    public var syscallAllowList: [String]?
    /// The evidence the enclave's quotes take (`enclave.evidence`), or nil for the default (Cloister's quote);
    /// `cloister run --evidence` chooses another for one launch.
    public var evidence: EvidenceKind?

    /// A manifest from its parts; `validate()` checks them.
    public init(
        name: String,
        entrypoint: Entrypoint,
        arguments: [String] = [],
        environment: [String: String] = [:],
        size: UInt64,
        productID: UInt16,
        svn: UInt16,
        debug: Bool = false,
        regions: [SealedRegion],
        trustedFiles: [TrustedFile] = [],
        allowedPaths: [AllowedPath] = [],
        syscallAllowList: [String]? = nil,
        evidence: EvidenceKind? = nil
    ) {
        self.name = name
        self.entrypoint = entrypoint
        self.arguments = arguments
        self.environment = environment
        self.size = size
        self.productID = productID
        self.svn = svn
        self.debug = debug
        self.regions = regions.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
        self.trustedFiles = trustedFiles
        self.allowedPaths = allowedPaths
        self.syscallAllowList = syscallAllowList
        self.evidence = evidence
    }

    /// The page size sizes are counted in.
    public static let pageSize: UInt64 = 4096
    /// The largest resident budget and the largest single region (64 GiB).
    public static let maximumSize: UInt64 = 64 << 30
    /// The largest total of all regions (256 GiB).
    public static let maximumTotalRegionSize: UInt64 = 256 << 30
    /// The longest enclave or region name.
    public static let maximumNameLength = 64

    /// The bytes the enclave's sealed memory (`EnclaveMemory`) locks: its resident frames, and for each region a page
    /// of key material and its table of page versions. `LaunchPolicy.memoryLockLimit` lets the enclave lock that much.
    public var lockedByteCount: UInt64 {
        let page = Self.pageSize
        let pages = { (bytes: UInt64) in (bytes + page - 1) / page * page }
        return regions.reduce(pages(size)) { total, region in
            total + page + pages(region.size / page * UInt64(MemoryLayout<UInt64>.size))
        }
    }

    /// `path` if absolute, else `path` beneath `baseDirectory` (the manifest's directory).
    public static func resolve(_ path: String, against baseDirectory: String) -> String {
        if path.hasPrefix("/") { return path }
        let relative = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        return baseDirectory.hasSuffix("/") ? baseDirectory + relative : baseDirectory + "/" + relative
    }

    /// Checks every value against the format's rules; the error names the offending key.
    public func validate() throws(ManifestError) {
        try Self.checkName(name, keyPath: "enclave.name")
        switch entrypoint {
        case .builtin(let workload):
            guard !workload.isEmpty, workload.utf8.allSatisfy(Self.isWorkloadNameByte) else {
                throw ManifestError(
                    .invalidValue,
                    "built-in workload name '\(workload)' must be non-empty lower-case letters, "
                        + "digits, '-' or '_'", keyPath: "loader.entrypoint")
            }
        case .file(let path):
            guard !path.isEmpty else {
                throw ManifestError(.invalidValue, "'file:' must be followed by a path", keyPath: "loader.entrypoint")
            }
        }
        for key in environment.keys.sorted() where key.isEmpty || key.contains("=") {
            throw ManifestError(
                .invalidValue, "environment variable names must be non-empty and contain no '='",
                keyPath: "loader.env.\(Self.quotedKey(key))")
        }
        for key in environment.keys.sorted() where EnclaveEnvironment.isLoaderVariable(key) {
            throw ManifestError(
                .invalidValue,
                "\(key) is a loader variable: it would change the code the enclave runs outside its measurement, "
                    + "so a manifest may not set it", keyPath: "loader.env.\(Self.quotedKey(key))")
        }
        try Self.checkSize(size, keyPath: "enclave.size", maximum: Self.maximumSize)
        try checkRegions()
        try checkTrustedFiles()
        try checkAllowedPaths()
        try checkSyscallAllowList()
    }

    private func checkRegions() throws(ManifestError) {
        guard !regions.isEmpty else {
            throw ManifestError(.invalidValue, "declare at least one sealed region", keyPath: "enclave.regions")
        }
        var total: UInt64 = 0
        for region in regions {
            let keyPath = "enclave.regions.\(Self.quotedKey(region.name))"
            try Self.checkName(region.name, keyPath: keyPath)
            try Self.checkSize(region.size, keyPath: keyPath, maximum: Self.maximumSize)
            total += region.size
        }
        guard total <= Self.maximumTotalRegionSize else {
            throw ManifestError(
                .invalidValue, "regions total \(total) bytes, more than the \(Self.maximumTotalRegionSize) allowed",
                keyPath: "enclave.regions")
        }
    }

    private func checkTrustedFiles() throws(ManifestError) {
        var seen: Set<String> = []
        for (index, file) in trustedFiles.enumerated() {
            guard file.uri.hasPrefix(TrustedFile.scheme), !file.path.isEmpty else {
                throw ManifestError(
                    .invalidValue, "'\(file.uri)' is not a file URI (write file:PATH)",
                    keyPath: "trusted_files[\(index)].uri")
            }
            guard seen.insert(file.uri).inserted else {
                throw ManifestError(
                    .invalidValue, "'\(file.uri)' is listed twice", keyPath: "trusted_files[\(index)].uri")
            }
            if let digest = file.sha384, digest.count != 48 {
                throw ManifestError(
                    .invalidValue, "a SHA-384 hash is 48 bytes, got \(digest.count)",
                    keyPath: "trusted_files[\(index)].sha384")
            }
        }
    }

    private func checkAllowedPaths() throws(ManifestError) {
        var seen: Set<String> = []
        for (index, allowed) in allowedPaths.enumerated() {
            guard !allowed.path.isEmpty else {
                throw ManifestError(.invalidValue, "path must not be empty", keyPath: "fs.allowed[\(index)].path")
            }
            guard seen.insert(allowed.path).inserted else {
                throw ManifestError(
                    .invalidValue, "'\(allowed.path)' is listed twice", keyPath: "fs.allowed[\(index)].path")
            }
        }
    }

    private func checkSyscallAllowList() throws(ManifestError) {
        guard let syscallAllowList else { return }
        guard !syscallAllowList.isEmpty else {
            throw ManifestError(
                .invalidValue, "an empty allow-list would stop every syscall; omit [seccomp] for no filter",
                keyPath: "seccomp.allow")
        }
        var seen: Set<String> = []
        for (index, name) in syscallAllowList.enumerated() {
            let keyPath = "seccomp.allow[\(index)]"
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isWorkloadNameByte) else {
                throw ManifestError(.invalidValue, "'\(name)' is not a syscall name", keyPath: keyPath)
            }
            if cloister_seccomp_supported() != 0, cloister_syscall_number(name) < 0 {
                throw ManifestError(.invalidValue, "'\(name)' is not an x86_64 syscall", keyPath: keyPath)
            }
            guard seen.insert(name).inserted else {
                throw ManifestError(.invalidValue, "'\(name)' is listed twice", keyPath: keyPath)
            }
        }
    }

    private static func checkName(_ name: String, keyPath: String) throws(ManifestError) {
        guard !name.isEmpty, name.utf8.count <= maximumNameLength, name.utf8.allSatisfy(isNameByte) else {
            throw ManifestError(
                .invalidValue,
                "name '\(name)' must be 1 to \(maximumNameLength) letters, digits, '.', '-' or '_'",
                keyPath: keyPath)
        }
    }

    private static func checkSize(_ size: UInt64, keyPath: String, maximum: UInt64) throws(ManifestError) {
        guard size > 0, size % pageSize == 0, size <= maximum else {
            throw ManifestError(
                .invalidValue,
                "\(size) bytes is not a positive multiple of \(pageSize) of at most \(maximum >> 30)G",
                keyPath: keyPath)
        }
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    private static func isWorkloadNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            true
        default: false
        }
    }

    /// A key as it appears in a dotted key path: bare when it can be, quoted otherwise.
    package static func quotedKey(_ key: String) -> String {
        let bare = !key.isEmpty && key.utf8.allSatisfy { isNameByte($0) && $0 != UInt8(ascii: ".") }
        return bare ? key : "\"\(key)\""
    }
}
