import ArgumentParser
import Foundation
import VendorCollateral

/// Where `verify` and `serve` fetch Intel DCAP collateral from: Intel's PCS or a PCCS, cached on disk.
struct PCCSOptions: ParsableArguments {
    @Option(
        name: .customLong("pccs"),
        help: """
            An Intel PCS or PCCS base URL (e.g. \(PCSClient.intelPCSURL)) to fetch a DCAP quote's collateral from \
            when none given is current for it.
            """)
    var pccs: String?

    @Option(
        name: .customLong("pccs-cache"),
        help: """
            The directory where --pccs collateral is cached (default $XDG_CACHE_HOME/cloister/pccs, else \
            ~/.cache/cloister/pccs).
            """)
    var pccsCache: String?

    func validate() throws {
        if let pccs {
            do {
                _ = try PCSClient(baseURL: pccs)
            } catch {
                throw ValidationError("--pccs: \(error.reason)")
            }
        } else if pccsCache != nil {
            throw ValidationError("--pccs-cache needs --pccs")
        }
    }

    /// With --pccs, the cache its collateral is fetched into, its directory created now (exit 73 when it cannot be);
    /// nil without --pccs.
    func cache() throws -> PCSCollateralCache? {
        guard let pccs else { return nil }
        guard
            let directory = pccsCache
                ?? PCSCollateralCache.defaultDirectory(environment: ProcessInfo.processInfo.environment)
        else {
            throw ValidationError("neither XDG_CACHE_HOME nor HOME is set: give the cache directory with --pccs-cache")
        }
        return try reportingErrors { try PCSCollateralCache(client: PCSClient(baseURL: pccs), directory: directory) }
    }
}
