public import ArgumentParser
import Attestation
import CloisterCrypto
import EnclavePlatform
import Foundation
import Hummingbird
import Logging
import SimulatedHardware
import VendorCollateral
import Verifier
import VerifierServer

/// `cloister serve`: the HTTP attestation service.
public struct ServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract:
            "Run the HTTP attestation service (challenge-response, one-shot verify, provisioning, JWKS, metrics).",
        discussion: """
            Cloister quotes are checked against the platform in --home (else $CLOISTER_HOME, else ~/.cloister) when \
            one is there; AWS Nitro documents against --trust-anchor roots; Intel SGX and TDX DCAP quotes against \
            --intel-root with the collateral in --dcap-collateral (files, or directories of .json files, read at \
            start), and with --pccs, collateral fetched from that PCS or PCCS for a quote whose TEE and FMSPC no \
            --dcap-collateral covers at the appraisal time (cached in --pccs-cache until its next update; a PCCS \
            failure answers 502 collateral-unavailable); AMD SEV-SNP reports against --amd-chain (AMD's ASK, ARK \
            and ASVK of a product line), with the VCEK from the evidence (an extended report) or --vcek, and with \
            --kds, the VCEK neither gives and the product line's CRL fetched from AMD's KDS (cached in --kds-cache; a \
            version 2 report takes the line of the one AMD ARK configured; a KDS failure answers 502 \
            collateral-unavailable). Provisioning routes need the bearer \
            token in --admin-token-file (without it they always answer 401). Several replicas share sessions, \
            policies and the audit log through one PostgreSQL database and one --signing-key. Stops gracefully on \
            SIGTERM or SIGINT. Routes and curl examples: README; the OpenAPI document is served at /openapi.json.
            """
    )

    @Option(help: "The address to bind.")
    var host = "127.0.0.1"

    @Option(help: "The TCP port.")
    var port = 8080

    @Option(help: "sqlite:PATH (default sqlite:cloister-verifier.sqlite) or postgres://USER[:PASSWORD]@HOST[:PORT]/DB.")
    var db = "sqlite:cloister-verifier.sqlite"

    @Option(help: "A file holding the admin bearer token for /v1/policies and /v1/reference-values.")
    var adminTokenFile: String?

    @Option(help: "The verifier's P-256 key (PEM) that signs results; replicas must share it.")
    var signingKey: String?

    @Option(help: "The Cloister platform home whose published root, CRLs and TCB-status list to trust.")
    var home: String?

    @Option(name: .customLong("trust-anchor"), help: "An AWS Nitro root certificate (PEM) to trust; repeatable.")
    var trustAnchors: [String] = []

    @Option(
        name: .customLong("intel-root"),
        help: "Intel's SGX Root CA (PEM), for SGX and TDX DCAP quotes (\(TrustStore.intelSGXRootCAURL)).")
    var intelRoot: String?

    @Option(
        name: .customLong("dcap-collateral"),
        help: "DCAP collateral (QuoteCollateralV3 JSON), or a directory of such .json files; repeatable.")
    var dcapCollateral: [String] = []

    @Option(
        name: .customLong("amd-chain"),
        help: "AMD's certificate chain for an SEV-SNP product line (ASK, ARK, ASVK; PEM); repeatable.")
    var amdChains: [String] = []

    @Option(
        name: .customLong("vcek"),
        help: "An AMD VCEK or VLEK (DER or PEM) for SEV-SNP reports that do not carry theirs; repeatable.")
    var endorsementKeys: [String] = []

    @OptionGroup var pccsOptions: PCCSOptions

    @OptionGroup var kdsOptions: KDSOptions

    @Option(help: "Seconds a challenge-response nonce stays usable.")
    var sessionLifetime = AttestationService.defaultSessionLifetime

    @Option(
        help: """
            Sessions that may be outstanding (issued, neither used nor expired) at once, across replicas; past it \
            newSession answers 503 with Retry-After.
            """)
    var maxOutstandingSessions = AttestationService.defaultMaximumOutstandingSessions

    @Option(
        help: """
            Seconds a session is kept after it expires (a late submission is told 410, a result can still be \
            read); then it is deleted.
            """)
    var sessionRetention = SessionCollector.defaultRetention

    @Option(help: "Seconds between passes that delete sessions past their retention.")
    var sessionCollectionInterval = SessionCollector.defaultInterval

    @Flag(
        help: """
            Also serve the simulated platform's collateral (--home): Intel PCS v4 routes (/sgx/certification/v4/..., \
            /tdx/certification/v4/...) and AMD KDS routes (/vcek/v1/..., /vlek/v1/...), for PCCS and KDS clients.
            """)
    var collateral = false

    @OptionGroup var timeouts: HTTPTimeoutOptions

    public init() {}

    public func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port must be 1 to 65535") }
        let day = HTTPTimeoutOptions.maximumSeconds
        for (option, value, range) in [
            ("--session-lifetime", sessionLifetime, 1...day), ("--session-retention", sessionRetention, 0...day),
            ("--session-collection-interval", sessionCollectionInterval, 1...day),
            ("--max-outstanding-sessions", maxOutstandingSessions, 1...100_000_000),
        ] where !range.contains(value) {
            throw ValidationError("\(option) must be \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
        if pccsOptions.pccs != nil, intelRoot == nil {
            throw ValidationError("--pccs needs --intel-root, the root its chains end at")
        }
        if kdsOptions.kds != nil, amdChains.isEmpty {
            throw ValidationError("--kds needs --amd-chain, the chain whose ARK the fetched VCEKs must end at")
        }
    }

    public func run() async throws {
        var logger = Logger(label: "cloister.verifier")
        logger.logLevel =
            ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        let token = try adminTokenFile.map(Self.adminToken) ?? []
        if !VerifierServerMain.adoptEventLoopsAsGlobalExecutor() {
            logger.debug("request handlers run on Swift's cooperative pool, not on the event loops")
        }
        if token.isEmpty { logger.warning("no --admin-token-file: provisioning routes answer 401") }
        let build = "cloister \(CloisterVersion.string)"
        let signer: ResultSigner
        if let signingKey {
            signer = try ResultSigner(key: CommandInput.privateKey(signingKey, "--signing-key"), build: build)
        } else {
            signer = try ResultSigner(key: ECPrivateKey(generating: .p256), build: build)
            logger.warning("results are signed with an ephemeral key; pass --signing-key for a stable JWK set")
        }
        let trust = try trustStore(logger: logger)
        let collateralRoutes = try collateral ? simulatedCollateralRoutes(logger: logger) : nil
        let collateralCache = try collateralCache(logger: logger)
        let endorsementCache = try kdsOptions.cache()
        if let endorsementCache {
            logger.info(
                """
                SEV-SNP VCEKs not configured are fetched from \(endorsementCache.client.baseURL), cached in \
                \(endorsementCache.directory)
                """)
        }
        let store = try await reportingErrors { () async throws -> any VerifierStore in
            try await VerifierServerMain.openStore(db, logger: logger)
        }
        let service = AttestationService(
            store: store, trust: trust, collateralCache: collateralCache, endorsementCache: endorsementCache,
            signer: signer,
            sessionLifetime: TimeInterval(sessionLifetime),
            maximumOutstandingSessions: maxOutstandingSessions)
        logger.info(
            "cloister verifier starting",
            metadata: ["address": "\(host):\(port)", "store": "\(store.kind)", "kid": "\(signer.keyID)"])
        try await VerifierServerMain.application(
            service: service, adminToken: token, host: host, port: port, timeouts: timeouts.timeouts,
            sessionRetention: TimeInterval(sessionRetention), collectionInterval: .seconds(sessionCollectionInterval),
            collateral: collateralRoutes, logger: logger
        ).runService()
    }

    /// The token in `path`: a file others can reach exits 78, as insecure platform state does; an unreadable or
    /// short one is a usage error.
    private static func adminToken(_ path: String) throws -> [UInt8] {
        do throws(AdminTokenFile.Refusal) {
            return try AdminTokenFile.read(path)
        } catch {
            guard error.kind == .insecure else { throw ValidationError("--admin-token-file: \(error.reason)") }
            printToStandardError("error: \(error.reason)")
            throw ExitCode(78)
        }
    }

    /// With --pccs, the cache that DCAP collateral is fetched into, its directory created now so that a directory
    /// that cannot be written stops the service at start (exit 73), not at its first quote.
    private func collateralCache(logger: Logger) throws -> PCSCollateralCache? {
        guard let cache = try pccsOptions.cache() else { return nil }
        logger.info(
            "DCAP collateral not configured is fetched from \(cache.client.baseURL), cached in \(cache.directory)")
        return cache
    }

    /// The simulated platform's PCS and KDS routes (`--collateral`), answered from what its vendors published when
    /// the service started.
    private func simulatedCollateralRoutes(logger: Logger) throws -> CollateralRoutes {
        let platformHome = PlatformHome.resolve(home, environment: ProcessInfo.processInfo.environment)
        let published = try reportingErrors { try platformHome.publishedTrust() }
        let pcs = SimulatedPCS(collateral: published.intelCollateral)
        let kds = SimulatedKDS(collateral: published.amdCollateral)
        logger.info("serving the simulated platform's PCS and KDS routes from \(platformHome.path)")
        return CollateralRoutes(prefixes: SimulatedPCS.prefixes + SimulatedKDS.prefixes) { path, query in
            let answer =
                SimulatedPCS.prefixes.contains(where: { path.hasPrefix($0) })
                ? pcs.respond(path: path, query: query) : kds.respond(path: path, query: query)
            return CollateralRoutes.Answer(status: answer.status, headers: answer.headers, body: answer.body)
        }
    }

    private func trustStore(logger: Logger) throws -> TrustStore {
        let platformHome = PlatformHome.resolve(home, environment: ProcessInfo.processInfo.environment)
        var trust = TrustStore()
        if platformHome.isInitialized {
            trust = try reportingErrors { try platformHome.publishedTrust().trustStore }
        } else if home != nil {
            throw ValidationError("no Cloister platform in \(platformHome.path)")
        }
        trust.nitroRoots += try trustAnchors.flatMap { try CommandInput.certificates($0, "--trust-anchor") }
        for warning in trust.nitroRootWarnings { logger.warning("\(warning)") }
        if let intelRoot {
            let dcap = TrustStore.FormatTrust(
                roots: try CommandInput.certificates(intelRoot, "--intel-root"),
                collateral: try dcapCollateral.flatMap(CommandInput.dcapCollateralFiles).map(
                    CommandInput.dcapCollateral))
            trust[.sgx] = dcap
            trust[.tdx] = dcap
            logger.info("DCAP quotes: \(dcap.collateral.count) collateral items")
        } else if !dcapCollateral.isEmpty {
            throw ValidationError("--dcap-collateral needs --intel-root, the root its chains end at")
        }
        let amd = try amdChains.flatMap { try CommandInput.certificates($0, "--amd-chain") }
        if !amd.isEmpty {
            let keys = try endorsementKeys.flatMap { try CommandInput.certificatesDERorPEM($0, "--vcek") }
            trust[.snp] = .sevSNP(vendorChain: amd, endorsementKeys: keys.map(\.derRepresentation))
        } else if !endorsementKeys.isEmpty {
            throw ValidationError("--vcek needs --amd-chain, the product line's chain it ends at")
        }
        return trust
    }
}
