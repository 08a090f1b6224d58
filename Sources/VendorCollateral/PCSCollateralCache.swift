import EnclaveProtocol
public import FoundationEssentials

/// Collateral from a PCS or PCCS, kept on disk and in memory and used while the appraisal's time is before its
/// earliest next update (TCB info, QE identity, both CRLs); then it is fetched again.
///
/// The directory holds one `QuoteCollateralV3` JSON file per TEE, FMSPC and PCK CA (`sgx-00A067110000-processor.json`,
/// the same JSON `--collateral` reads), each replaced atomically (written beside it, `fsync`ed, renamed). A file that
/// does not read, or is for other collateral, is fetched again, never fatal. Concurrent requests for the same
/// collateral share one fetch. What is cached is not trusted: the appraisal verifies it as it verifies collateral
/// given in a file.
public actor PCSCollateralCache {
    public nonisolated let client: PCSClient
    public nonisolated let directory: String
    private var entries: [PCSCollateralKey: PCSCollateral] = [:]
    private var fetches: [PCSCollateralKey: Task<Result<PCSCollateral, PCSError>, Never>] = [:]

    /// A cache in `directory`, created (with its parents, mode 0700) when missing.
    public init(client: PCSClient, directory: String) throws(PCSError) {
        do {
            try CollateralCacheDirectory.create(directory)
        } catch {
            throw PCSError(.cacheUnwritable, "the PCCS cache directory \(directory) cannot be created: \(error)")
        }
        self.client = client
        self.directory = directory
    }

    /// Where collateral is cached when no directory is given: `$XDG_CACHE_HOME/cloister/pccs`, else
    /// `$HOME/.cache/cloister/pccs` (the XDG base directory default); nil when neither variable is set.
    public static func defaultDirectory(environment: [String: String]) -> String? {
        CollateralCacheDirectory.defaultPath("pccs", environment: environment)
    }

    /// The collateral `key` names for an appraisal at `time`: from memory or the directory while current at `time`,
    /// else fetched and written to the directory.
    public func collateral(for key: PCSCollateralKey, at time: Date) async throws(PCSError) -> PCSCollateral {
        if let known = entries[key], known.isCurrent(at: time) { return known }
        let file = AtomicFile(path: directory + "/" + key.fileName, mode: 0o600)
        if let stored = try? PCSCollateral(json: file.read(), source: file.path), stored.key == key,
            stored.isCurrent(at: time)
        {
            entries[key] = stored
            return stored
        }
        let fetch: Task<Result<PCSCollateral, PCSError>, Never>
        if let running = fetches[key] {
            fetch = running
        } else {
            let client = client
            fetch = Task {
                do throws(PCSError) {
                    let fetched = try await client.collateral(for: key)
                    do throws(PersistenceError) {
                        try file.write(fetched.json)
                    } catch {
                        throw PCSError(
                            .cacheUnwritable, "the PCCS cache file \(file.path) cannot be written: \(error.reason)")
                    }
                    return .success(fetched)
                } catch {
                    return .failure(error)
                }
            }
            fetches[key] = fetch
        }
        let outcome = await fetch.value
        fetches[key] = nil
        let fetched = try outcome.get()
        entries[key] = fetched
        return fetched
    }
}
