import FoundationEssentials

/// Where the collateral caches (`PCSCollateralCache`, `AMDKDSCache`) keep their files.
enum CollateralCacheDirectory {
    /// `$XDG_CACHE_HOME/cloister/{name}`, else `$HOME/.cache/cloister/{name}` (the XDG base directory default); nil
    /// when neither variable is set to an absolute path.
    static func defaultPath(_ name: String, environment: [String: String]) -> String? {
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") { return "\(cache)/cloister/\(name)" }
        if let home = environment["HOME"], home.hasPrefix("/") { return "\(home)/.cache/cloister/\(name)" }
        return nil
    }

    /// Creates `path` with its parents, mode 0700, when missing.
    static func create(_ path: String) throws {
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
}
