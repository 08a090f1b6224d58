import ArgumentParser
import Attestation
import Foundation
import VendorCollateral

/// Where `verify` and `serve` fetch AMD SEV-SNP endorsements from: AMD's KDS, cached on disk.
struct KDSOptions: ParsableArguments {
    @Option(
        name: .customLong("kds"),
        help: """
            An AMD KDS base URL (e.g. \(TrustStore.amdKDSURL)) to fetch an SEV-SNP report's VCEK (when neither the \
            evidence nor --vcek gives it), its ASK (when the trust anchors do not) and its product line's CRL from.
            """)
    var kds: String?

    @Option(
        name: .customLong("kds-cache"),
        help: """
            The directory where --kds answers are cached (default $XDG_CACHE_HOME/cloister/kds, else \
            ~/.cache/cloister/kds).
            """)
    var kdsCache: String?

    func validate() throws {
        if let kds {
            do {
                _ = try AMDKDSClient(baseURL: kds)
            } catch {
                throw ValidationError("--kds: \(error.reason)")
            }
        } else if kdsCache != nil {
            throw ValidationError("--kds-cache needs --kds")
        }
    }

    /// With --kds, the cache its answers are fetched into, its directory created now (exit 73 when it cannot be);
    /// nil without --kds.
    func cache() throws -> AMDKDSCache? {
        guard let kds else { return nil }
        guard let directory = kdsCache ?? AMDKDSCache.defaultDirectory(environment: ProcessInfo.processInfo.environment)
        else {
            throw ValidationError("neither XDG_CACHE_HOME nor HOME is set: give the cache directory with --kds-cache")
        }
        return try reportingErrors { try AMDKDSCache(client: AMDKDSClient(baseURL: kds), directory: directory) }
    }
}
