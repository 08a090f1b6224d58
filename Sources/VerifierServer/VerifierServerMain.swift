public import Foundation
public import HTTPService
public import Hummingbird
public import Logging
import NIOCore
import NIOPosix
import Verifier

/// Assembles and runs the service: opens the store named by a database spec, builds the routes, serves until
/// SIGTERM or SIGINT, then drains in-flight requests (graceful shutdown).
public enum VerifierServerMain {
    /// The store for `spec`: `sqlite:PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
    public static func openStore(_ spec: String, logger: Logger) async throws -> any VerifierStore {
        if spec.hasPrefix("sqlite:") {
            let path = String(spec.dropFirst("sqlite:".count))
            guard !path.isEmpty else { throw StoreError("sqlite: needs a path, e.g. sqlite:verifier.sqlite") }
            return try SQLiteVerifierStore(path: path)
        }
        if spec.hasPrefix("postgres://") || spec.hasPrefix("postgresql://") {
            return try await PostgresVerifierStore(url: spec, logger: logger)
        }
        throw StoreError("--db must be sqlite:PATH or postgres://USER@HOST[:PORT]/DATABASE, not \(spec)")
    }

    /// Runs Swift concurrency's jobs on the event loops that serve HTTP (NIO's singleton group), so a request's
    /// handler does not hop between the event loop and the cooperative pool. Call once, before serving.
    public static func adoptEventLoopsAsGlobalExecutor() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// The application serving `service` on `host`:`port` with `timeouts`, and collecting its expired sessions
    /// `sessionRetention` after they expire, every `collectionInterval`.
    public static func application(
        service: AttestationService, adminToken: [UInt8], host: String, port: Int,
        timeouts: HTTPTimeouts = HTTPTimeouts(),
        sessionRetention: TimeInterval = TimeInterval(SessionCollector.defaultRetention),
        collectionInterval: Duration = .seconds(SessionCollector.defaultInterval),
        collateral: CollateralRoutes? = nil, logger: Logger
    ) -> some ApplicationProtocol {
        let router = VerifierRoutes.router(service: service, adminToken: adminToken)
        collateral?.add(to: router)
        return Application(
            router: router,
            server: .http1(timeouts: timeouts),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "cloister"),
            services: [
                SessionCollector(
                    store: service.store, retention: sessionRetention, interval: collectionInterval,
                    metrics: service.metrics, logger: logger)
            ],
            logger: logger)
    }
}
