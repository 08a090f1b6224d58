import CloisterCBOR

/// The canonical form of a manifest: the input to its measurement and the payload `cloister sign` signs.
///
/// A deterministic CBOR map (RFC 8949 §4.2.1) with text keys, documented in `Manifests/README.md`:
/// `version` (1), `name`, `entrypoint` (as written), `argv`, `env` (map), `size`, `product_id`, `svn`, `debug`,
/// `regions` (map name -> bytes), `trusted_files` (array of {`uri`, `sha384`} sorted by URI), `fs_allowed` (array of
/// {`path`, `access`} sorted by path), `seccomp_allow` (sorted array of names, or null for no filter). Sizes are
/// byte counts, so `"64M"` and `67108864` measure the same; paths and URIs stay as written. `evidence` (the evidence
/// kind's name) is present only when the manifest sets one, so a manifest without it measures as before.
extension EnclaveManifest {
    /// The version of the canonical form this code writes and reads.
    public static let canonicalFormVersion: UInt64 = 1

    /// The manifest's canonical deterministic CBOR encoding.
    ///
    /// Every trusted file must carry its SHA-384 (fill them with `fillingTrustedFileHashes(baseDirectory:)`).
    public func canonicalEncoding() throws(ManifestError) -> [UInt8] {
        try validate()
        var trusted: [CBORValue] = []
        for (index, file) in trustedFiles.enumerated() {
            guard let digest = file.sha384 else {
                throw ManifestError(
                    .invalidValue, "hash of '\(file.uri)' is not filled in (run cloister sign)",
                    keyPath: "trusted_files[\(index)].sha384")
            }
            trusted.append(.map([.init("uri", .text(file.uri)), .init("sha384", .bytes(digest))]))
        }
        let sortedTrusted = zip(trustedFiles, trusted).sorted { Self.precedes($0.0.uri, $1.0.uri) }.map(\.1)
        let allowed = allowedPaths.sorted { Self.precedes($0.path, $1.path) }.map { path -> CBORValue in
            .map([.init("path", .text(path.path)), .init("access", .text(path.access.rawValue))])
        }
        var entries: [CBORMapEntry] = [
            .init("version", .unsigned(Self.canonicalFormVersion)),
            .init("name", .text(name)),
            .init("entrypoint", .text(entrypoint.description)),
            .init("argv", .array(arguments.map(CBORValue.text))),
            .init("env", .map(environment.map { .init(.text($0.key), .text($0.value)) })),
            .init("size", .unsigned(size)),
            .init("product_id", .unsigned(UInt64(productID))),
            .init("svn", .unsigned(UInt64(svn))),
            .init("debug", .bool(debug)),
            .init("regions", .map(regions.map { .init(.text($0.name), .unsigned($0.size)) })),
            .init("trusted_files", .array(sortedTrusted)),
            .init("fs_allowed", .array(allowed)),
            .init(
                "seccomp_allow",
                syscallAllowList.map { .array($0.sorted(by: Self.precedes).map(CBORValue.text)) } ?? .null),
        ]
        if let evidence { entries.append(.init("evidence", .text(evidence.rawValue))) }
        do {
            return try CBORValue.map(entries).encoded()
        } catch {
            throw ManifestError(.invalidValue, "cannot encode the canonical form: \(error)")
        }
    }

    /// Decodes a canonical encoding, refusing anything that is not exactly what `canonicalEncoding()` writes.
    public init(canonicalEncoding bytes: [UInt8]) throws(ManifestError) {
        let value: CBORValue
        do {
            value = try CBORDecoder().decode(bytes)
        } catch {
            throw ManifestError(.malformedSignedManifest, "canonical manifest is not CBOR: \(error)")
        }
        let fields = try CanonicalMap(
            value, "manifest",
            keys: [
                "version", "name", "entrypoint", "argv", "env", "size", "product_id", "svn", "debug", "regions",
                "trusted_files", "fs_allowed", "seccomp_allow",
            ], optional: ["evidence"])
        var evidence: EvidenceKind?
        if let name = fields.entries["evidence"] {
            guard let kind = name.textValue.flatMap(EvidenceKind.init(rawValue:)) else {
                throw ManifestError(.malformedSignedManifest, "canonical manifest evidence is not an evidence kind")
            }
            evidence = kind
        }
        guard try fields.unsigned("version") == Self.canonicalFormVersion else {
            throw ManifestError(
                .malformedSignedManifest, "canonical manifest version is not \(Self.canonicalFormVersion)")
        }
        let entrypointText = try fields.text("entrypoint")
        let entrypoint: Entrypoint
        if entrypointText.hasPrefix("builtin:") {
            entrypoint = .builtin(String(entrypointText.dropFirst("builtin:".count)))
        } else if entrypointText.hasPrefix("file:") {
            entrypoint = .file(String(entrypointText.dropFirst("file:".count)))
        } else {
            throw ManifestError(.malformedSignedManifest, "canonical manifest entrypoint '\(entrypointText)'")
        }
        var environment: [String: String] = [:]
        for entry in try fields.map("env") {
            environment[try CanonicalMap.text(entry.key, "env key")] = try CanonicalMap.text(entry.value, "env value")
        }
        var regions: [SealedRegion] = []
        for entry in try fields.map("regions") {
            regions.append(
                SealedRegion(
                    name: try CanonicalMap.text(entry.key, "region name"),
                    size: try CanonicalMap.unsigned(entry.value, "region size")))
        }
        var trustedFiles: [TrustedFile] = []
        for element in try fields.array("trusted_files") {
            let file = try CanonicalMap(element, "trusted file", keys: ["uri", "sha384"])
            trustedFiles.append(TrustedFile(uri: try file.text("uri"), sha384: try file.bytes("sha384")))
        }
        var allowedPaths: [AllowedPath] = []
        for element in try fields.array("fs_allowed") {
            let allowed = try CanonicalMap(element, "allowed path", keys: ["path", "access"])
            guard let access = FilesystemRule.Access(rawValue: try allowed.text("access")) else {
                throw ManifestError(.malformedSignedManifest, "canonical manifest has an unknown access mode")
            }
            allowedPaths.append(AllowedPath(path: try allowed.text("path"), access: access))
        }
        var syscallAllowList: [String]?
        if let names = fields.entries["seccomp_allow"], !names.isNull {
            guard let elements = names.arrayValue else {
                throw ManifestError(.malformedSignedManifest, "canonical manifest seccomp_allow is not an array")
            }
            syscallAllowList = try elements.map { value throws(ManifestError) in
                try CanonicalMap.text(value, "syscall name")
            }
        }
        guard let productID = UInt16(exactly: try fields.unsigned("product_id")),
            let svn = UInt16(exactly: try fields.unsigned("svn"))
        else {
            throw ManifestError(.malformedSignedManifest, "canonical manifest product_id or svn is out of range")
        }
        guard let debug = fields.entries["debug"]?.boolValue else {
            throw ManifestError(.malformedSignedManifest, "canonical manifest debug is not a boolean")
        }
        self.init(
            name: try fields.text("name"), entrypoint: entrypoint,
            arguments: try fields.array("argv").map { value throws(ManifestError) in
                try CanonicalMap.text(value, "argument")
            },
            environment: environment, size: try fields.unsigned("size"), productID: productID, svn: svn,
            debug: debug, regions: regions, trustedFiles: trustedFiles, allowedPaths: allowedPaths,
            syscallAllowList: syscallAllowList, evidence: evidence)
        guard try canonicalEncoding() == bytes else {
            throw ManifestError(.malformedSignedManifest, "manifest encoding is not canonical")
        }
    }

    /// Byte-wise UTF-8 order, the same on every machine and locale.
    package static func precedes(_ lhs: String, _ rhs: String) -> Bool {
        lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
    }
}

/// A CBOR map with text keys from a canonical manifest, with typed accessors that fail as malformed.
private struct CanonicalMap {
    let entries: [String: CBORValue]
    let what: String

    init(_ value: CBORValue, _ what: String, keys: [String], optional: [String] = []) throws(ManifestError) {
        guard let map = value.mapValue else {
            throw ManifestError(.malformedSignedManifest, "canonical \(what) is not a map")
        }
        var entries: [String: CBORValue] = [:]
        for entry in map {
            guard let key = entry.key.textValue, keys.contains(key) || optional.contains(key) else {
                throw ManifestError(.malformedSignedManifest, "canonical \(what) has an unexpected key \(entry.key)")
            }
            entries[key] = entry.value
        }
        guard keys.allSatisfy({ entries[$0] != nil }) else {
            let missing = keys.filter { entries[$0] == nil }.joined(separator: ", ")
            throw ManifestError(.malformedSignedManifest, "canonical \(what) lacks \(missing)")
        }
        self.entries = entries
        self.what = what
    }

    func text(_ key: String) throws(ManifestError) -> String { try Self.text(entries[key]!, "\(what) \(key)") }

    func unsigned(_ key: String) throws(ManifestError) -> UInt64 {
        try Self.unsigned(entries[key]!, "\(what) \(key)")
    }

    func bytes(_ key: String) throws(ManifestError) -> [UInt8] {
        guard let bytes = entries[key]!.bytesValue else {
            throw ManifestError(.malformedSignedManifest, "canonical \(what) \(key) is not a byte string")
        }
        return bytes
    }

    func array(_ key: String) throws(ManifestError) -> [CBORValue] {
        guard let elements = entries[key]!.arrayValue else {
            throw ManifestError(.malformedSignedManifest, "canonical \(what) \(key) is not an array")
        }
        return elements
    }

    func map(_ key: String) throws(ManifestError) -> [CBORMapEntry] {
        guard let entries = entries[key]!.mapValue else {
            throw ManifestError(.malformedSignedManifest, "canonical \(what) \(key) is not a map")
        }
        return entries
    }

    static func text(_ value: CBORValue, _ what: String) throws(ManifestError) -> String {
        guard let text = value.textValue else {
            throw ManifestError(.malformedSignedManifest, "canonical \(what) is not a text string")
        }
        return text
    }

    static func unsigned(_ value: CBORValue, _ what: String) throws(ManifestError) -> UInt64 {
        guard case .unsigned(let number) = value else {
            throw ManifestError(.malformedSignedManifest, "canonical \(what) is not an unsigned integer")
        }
        return number
    }
}
