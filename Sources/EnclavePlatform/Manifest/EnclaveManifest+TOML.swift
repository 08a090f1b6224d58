import CloisterCrypto
public import EnclaveProtocol
import Glibc
import TOMLDocument

extension EnclaveManifest {
    /// Parses and validates a manifest from Gramine-style TOML (format in `Manifests/README.md`).
    ///
    /// Strict: an unknown key anywhere, a missing required key, a value of the wrong type or out of range is an error
    /// naming the key path.
    public init(toml text: String) throws(ManifestError) {
        let table: TOMLTable
        do {
            table = try TOMLDocument.parse(text)
        } catch {
            throw ManifestError(.syntax, error.line == nil ? "not TOML: \(error)" : error.description)
        }
        try self.init(
            root: TableReader(table, keyPath: "", keys: ["loader", "enclave", "trusted_files", "fs", "seccomp"]))
    }

    /// Reads, parses and validates the TOML manifest at `path`; errors name the file.
    public init(contentsOfFile path: String) throws(ManifestError) {
        let bytes = try ManifestFile.read(path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ManifestError(.syntax, "not UTF-8 text", path: path)
        }
        do {
            try self.init(toml: text)
        } catch {
            throw error.inFile(path)
        }
    }

    private init(root: TableReader) throws(ManifestError) {
        let loader = try root.requiredTable("loader", keys: ["entrypoint", "argv", "env"])
        let enclave = try root.requiredTable(
            "enclave", keys: ["name", "size", "product_id", "svn", "debug", "regions", "evidence"])
        let regionsTable = try enclave.requiredTable("regions", keys: nil)
        var regions: [SealedRegion] = []
        for key in regionsTable.table.keys {
            regions.append(SealedRegion(name: key, size: try regionsTable.requiredSize(key)))
        }
        var environment: [String: String] = [:]
        if let env = try loader.table("env", keys: nil) {
            for key in env.table.keys { environment[key] = try env.requiredString(key) }
        }
        self.init(
            name: try enclave.requiredString("name"),
            entrypoint: try Self.entrypoint(try loader.requiredString("entrypoint")),
            arguments: try loader.strings("argv") ?? [],
            environment: environment,
            size: try enclave.requiredSize("size"),
            productID: try enclave.requiredUInt16("product_id"),
            svn: try enclave.requiredUInt16("svn"),
            debug: try enclave.bool("debug") ?? false,
            regions: regions,
            trustedFiles: try Self.trustedFiles(root),
            allowedPaths: try Self.allowedPaths(root),
            syscallAllowList: try root.table("seccomp", keys: ["allow"])?.requiredStrings("allow"),
            evidence: try Self.evidence(enclave)
        )
        try validate()
    }

    private static func evidence(_ enclave: TableReader) throws(ManifestError) -> EvidenceKind? {
        guard let name = try enclave.string("evidence") else { return nil }
        guard let kind = EvidenceKind(rawValue: name) else {
            throw ManifestError(
                .invalidValue, "'\(name)' is not an evidence kind (\(EvidenceKind.names))", keyPath: "enclave.evidence")
        }
        return kind
    }

    private static func entrypoint(_ text: String) throws(ManifestError) -> Entrypoint {
        if text.hasPrefix("builtin:") { return .builtin(String(text.dropFirst("builtin:".count))) }
        if text.hasPrefix("file:") { return .file(String(text.dropFirst("file:".count))) }
        throw ManifestError(
            .invalidValue, "'\(text)' is neither builtin:NAME nor file:PATH", keyPath: "loader.entrypoint")
    }

    private static func trustedFiles(_ root: TableReader) throws(ManifestError) -> [TrustedFile] {
        var files: [TrustedFile] = []
        for entry in try root.tables("trusted_files", keys: ["uri", "sha384"]) ?? [] {
            let hex = try entry.string("sha384") ?? ""
            var digest: [UInt8]?
            if !hex.isEmpty {
                guard hex.utf8.count == 96, let decoded = hexDecoded(hex) else {
                    throw ManifestError(
                        .invalidValue, "\"\(hex)\" is not 96 hexadecimal digits (or empty before signing)",
                        keyPath: entry.path("sha384"))
                }
                digest = decoded
            }
            files.append(TrustedFile(uri: try entry.requiredString("uri"), sha384: digest))
        }
        return files
    }

    private static func allowedPaths(_ root: TableReader) throws(ManifestError) -> [AllowedPath] {
        guard let fs = try root.table("fs", keys: ["allowed"]) else { return [] }
        var paths: [AllowedPath] = []
        for entry in try fs.tables("allowed", keys: ["path", "access"]) ?? [] {
            let access = try entry.requiredString("access")
            guard let parsed = FilesystemRule.Access(rawValue: access) else {
                throw ManifestError(
                    .invalidValue, "\"\(access)\" is not an access mode (use ro or rw)", keyPath: entry.path("access"))
            }
            paths.append(AllowedPath(path: try entry.requiredString("path"), access: parsed))
        }
        return paths
    }

    /// Bytes from "NNN" with an optional K, M or G suffix (binary multiples), or nil.
    static func parseByteSize(_ text: String) -> UInt64? {
        var digits = Substring(text)
        var multiplier: UInt64 = 1
        switch digits.last {
        case "K": multiplier = 1 << 10
        case "M": multiplier = 1 << 20
        case "G": multiplier = 1 << 30
        default: break
        }
        if multiplier != 1 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let count = UInt64(digits)
        else { return nil }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : bytes
    }
}

/// One TOML table being read, with its key path and the keys it may hold.
private struct TableReader {
    let table: TOMLTable
    let keyPath: String

    /// Wraps `table`, rejecting any key outside `keys` (nil: any key, for maps such as `loader.env`).
    init(_ table: TOMLTable, keyPath: String, keys: [String]?) throws(ManifestError) {
        self.table = table
        self.keyPath = keyPath
        guard let keys else { return }
        for key in table.keys.sorted() where !keys.contains(key) {
            let owner = keyPath.isEmpty ? "the top level" : keyPath
            throw ManifestError(
                .unknownKey, "unknown key; \(owner) takes \(keys.sorted().joined(separator: ", "))",
                keyPath: path(key))
        }
    }

    func path(_ key: String) -> String {
        let quoted = EnclaveManifest.quotedKey(key)
        return keyPath.isEmpty ? quoted : "\(keyPath).\(quoted)"
    }

    private func value(_ key: String) -> (TOMLValue)? { table[key] }

    private func required<T>(_ value: T?, _ key: String) throws(ManifestError) -> T {
        guard let value else { throw ManifestError(.missingKey, "required key is missing", keyPath: path(key)) }
        return value
    }

    private func typeError(_ key: String, expected: String, found value: TOMLValue) -> ManifestError {
        ManifestError(.wrongType, "expected \(expected), found \(value.kind)", keyPath: path(key))
    }

    func string(_ key: String) throws(ManifestError) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value.string else { throw typeError(key, expected: "a string", found: value) }
        return text
    }

    func requiredString(_ key: String) throws(ManifestError) -> String { try required(try string(key), key) }

    func bool(_ key: String) throws(ManifestError) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let flag = value.bool else { throw typeError(key, expected: "true or false", found: value) }
        return flag
    }

    func requiredUInt16(_ key: String) throws(ManifestError) -> UInt16 {
        let value = try required(value(key), key)
        guard let integer = value.int else { throw typeError(key, expected: "an integer", found: value) }
        guard let narrowed = UInt16(exactly: integer) else {
            throw ManifestError(.invalidValue, "\(integer) is out of range 0...65535", keyPath: path(key))
        }
        return narrowed
    }

    /// A size: a string of digits with an optional K, M or G suffix, or an integer number of bytes.
    func requiredSize(_ key: String) throws(ManifestError) -> UInt64 {
        let value = try required(value(key), key)
        if let integer = value.int {
            guard let bytes = UInt64(exactly: integer) else {
                throw ManifestError(.invalidValue, "\(integer) is not a size (negative)", keyPath: path(key))
            }
            return bytes
        }
        guard let text = value.string else {
            throw typeError(key, expected: "a size such as \"64M\"", found: value)
        }
        guard let bytes = EnclaveManifest.parseByteSize(text) else {
            throw ManifestError(
                .invalidValue, "\"\(text)\" is not a size (use bytes with an optional K, M or G suffix)",
                keyPath: path(key))
        }
        return bytes
    }

    func table(_ key: String, keys: [String]?) throws(ManifestError) -> TableReader? {
        guard let value = value(key) else { return nil }
        guard let table = value.table else { throw typeError(key, expected: "a table", found: value) }
        return try TableReader(table, keyPath: path(key), keys: keys)
    }

    func requiredTable(_ key: String, keys: [String]?) throws(ManifestError) -> TableReader {
        try required(try table(key, keys: keys), key)
    }

    private func array(_ key: String) throws(ManifestError) -> [TOMLValue]? {
        guard let value = value(key) else { return nil }
        guard let array = value.array else { throw typeError(key, expected: "an array", found: value) }
        return array
    }

    func strings(_ key: String) throws(ManifestError) -> [String]? {
        guard let elements = try array(key) else { return nil }
        var strings: [String] = []
        for (index, element) in elements.enumerated() {
            guard let text = element.string else {
                throw ManifestError(
                    .wrongType, "expected a string, found \(element.kind)",
                    keyPath: "\(path(key))[\(index)]")
            }
            strings.append(text)
        }
        return strings
    }

    func requiredStrings(_ key: String) throws(ManifestError) -> [String] { try required(try strings(key), key) }

    /// An array of tables (`[[key]]` or an array of inline tables), each checked against `keys`.
    func tables(_ key: String, keys: [String]) throws(ManifestError) -> [TableReader]? {
        guard let elements = try array(key) else { return nil }
        var tables: [TableReader] = []
        for (index, element) in elements.enumerated() {
            let elementPath = "\(path(key))[\(index)]"
            guard let table = element.table else {
                throw ManifestError(
                    .wrongType, "expected a table, found \(element.kind)", keyPath: elementPath)
            }
            tables.append(try TableReader(table, keyPath: elementPath, keys: keys))
        }
        return tables
    }
}
