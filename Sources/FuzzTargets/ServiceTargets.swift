import Attestation
import CloisterCBOR
import CloisterCrypto
import ConfidentialProtocol
import Dispatch
import EnclavePlatform
import EnclaveProtocol
import Federated
import FederationServer
import FoundationEssentials
import Glibc
import HTTPService
import Hummingbird
import Learning
import Logging
import NIOEmbedded
import Synchronization
import Verifier
import VerifierServer
import Workloads

/// Every request body the two services accept, through their routers' handlers as a server runs them (middleware,
/// size limits, media types, the handlers, the store or the enclave behind them), without a socket.
///
/// An input is a request: its first byte picks the route, its second the `Content-Type`, the bytes up to the first
/// NUL are the path's id and query (percent-encoded where a URI needs it), the rest is the body. A client's bytes
/// never earn a 5xx; what a handler accepted it keeps (a stored policy reads back as accepted, a used nonce stays
/// used).
enum ServiceTargets {
    /// `cloister serve`'s routes with a body: one-shot verification, a session's evidence, a policy, a set of
    /// reference values, over an SQLite store, with the vectors' trust.
    static func verifier(_ input: [UInt8], context: FuzzContext) {
        let request = FuzzRequest(input)
        let service = VerifierHarness.shared(context)
        let query = request.query.isEmpty ? "" : "?\(request.query)"
        switch request.route % 4 {
        case 0:
            let status = service.respond(.post, "/v1/verify\(query)", request.contentType, request.body)
            require(status.code < 500, "a verification answers the client's bytes below 500, not \(status)")
        case 1:
            let id = service.newSession()
            let path = "/challenge-response/v1/session/\(id)\(query)"
            let first = service.respond(.post, path, request.contentType, request.body)
            require(first.code < 500, "a session's evidence is answered below 500, not \(first)")
            if first == .ok {
                let replay = service.respond(.post, path, request.contentType, request.body)
                require(replay == .conflict, "a used nonce stays used (a replay answered \(replay))")
            }
        case 2:
            let id = request.id
            let status = service.respond(.put, "/v1/policies/\(id)", "application/json", request.body, admin: true)
            require(status.code < 500, "a policy is answered below 500, not \(status)")
            if status == .ok {
                require(
                    service.storedPolicy(id) == (try? Policy(text: String(decoding: request.body, as: UTF8.self))),
                    "a stored policy reads back as it was accepted")
                _ = service.respond(.delete, "/v1/policies/\(id)", nil, [], admin: true)
            }
        default:
            let id = request.id
            let path = "/v1/reference-values/\(id)"
            let status = service.respond(.put, path, "application/json", request.body, admin: true)
            require(status.code < 500, "reference values are answered below 500, not \(status)")
            if status == .ok {
                require(service.storesReferenceValues(id), "stored reference values read back")
                _ = service.respond(.delete, path, nil, [], admin: true)
            }
        }
    }

    /// `cloister fl serve`'s routes with a body: a quote request and a sealed update, relayed to the aggregator's
    /// ECALLs (`EnclaveAggregator`, begun for one client) answered on a channel pair in this process, and the quote
    /// made by a simulated platform. An update opens only if sealed for this process's federation (its id is
    /// random), so what follows the opening is the `federation-update` target's.
    static func federation(_ input: [UInt8], context: FuzzContext) {
        let request = FuzzRequest(input)
        let host = FederationHarness.shared(context)
        let route = request.route % 2 == 0 ? FederationHTTPAPI.quote : FederationHTTPAPI.submit
        let status = host.respond(route.path, request.contentType, request.body)
        require(status.code < 500, "the federation host answers a client's bytes below 500, not \(status)")
    }
}

/// A request as a fuzz input spells it.
struct FuzzRequest {
    static let contentTypes: [String?] =
        [nil, "application/octet-stream", "application/cbor", "application/cose", "text/plain; charset=utf-8"]
        + EvidenceFormatRegistry.standard.mediaTypes

    let route: UInt8
    let contentType: String?
    /// What precedes any `?` in the head: the id of a path (`/v1/policies/{id}`), for the routes that take one.
    private let idBytes: ArraySlice<UInt8>
    /// The query string, percent-encoded.
    let query: String
    let body: [UInt8]

    /// The path's id, percent-encoded.
    var id: String { Self.percentEncoded(idBytes) }

    init(_ input: [UInt8]) {
        route = input.first ?? 0
        let type = input.dropFirst().first.map(Int.init) ?? 0
        contentType = Self.contentTypes[type % Self.contentTypes.count]
        let rest = input.dropFirst(2)
        let head = rest.prefix { $0 != 0 }.prefix(512)
        body = Array(rest.dropFirst(head.count + 1))
        let parts = head.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)
        idBytes = parts.first ?? []
        query = parts.count > 1 ? Self.percentEncoded(parts[1], keeping: "=&") : ""
    }

    /// The input that spells a request to `route` with `contentType` (one of `contentTypes`), `head` (the path's
    /// id, then `?` and the query) and `body`.
    static func spelling(route: UInt8, contentType: String?, head: String = "", body: [UInt8]) -> [UInt8] {
        let type = contentTypes.firstIndex(of: contentType) ?? 0
        return [route, UInt8(type)] + Array(head.utf8) + [0] + body
    }

    /// `bytes` with every byte but unreserved ones (and `keeping`) as %XX: what a client's library sends.
    private static func percentEncoded(_ bytes: ArraySlice<UInt8>, keeping: String = "") -> String {
        let kept = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~\(keeping)".utf8)
        return bytes.map { kept.contains($0) ? String(UnicodeScalar($0)) : "%" + hexEncoded([$0]).uppercased() }
            .joined()
    }
}

/// Runs `body` on the concurrency pool and waits for it on this (libFuzzer's) thread.
private func waiting<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let result = Mutex<T?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let value = await body()
        result.withLock { $0 = value }
        done.signal()
    }
    done.wait()
    return result.withLock { $0! }
}

/// The status a responder gives `request`, as a server would send it: an error that is an HTTP response is its
/// status, any other error is a 500.
private func status(
    of request: Request, from responder: some HTTPResponder<BasicRequestContext>
) -> HTTPResponse.Status {
    waiting {
        // The channel a server's context names (one safe to use from any thread, as a task may resume on another);
        // finished after the request, which breaks its pipeline's cycles.
        let channel = NIOAsyncTestingChannel()
        let context = BasicRequestContext(source: ApplicationRequestContextSource(channel: channel, logger: quiet))
        let status: HTTPResponse.Status
        do {
            status = try await responder.respond(to: request, context: context).status
        } catch let error as any HTTPResponseError {
            status = error.status
        } catch {
            status = .internalServerError
        }
        _ = try? await channel.finish()
        return status
    }
}

private let quiet = Logger(label: "cloister.fuzz", factory: { _ in SwiftLogNoOpLogHandler() })

private func request(
    _ method: HTTPRequest.Method, _ path: String, _ contentType: String?, _ body: [UInt8], headers: HTTPFields = [:]
) -> Request {
    var fields = headers
    if let contentType { fields[.contentType] = contentType }
    return Request(
        head: HTTPRequest(method: method, scheme: "http", authority: "127.0.0.1", path: path, headerFields: fields),
        body: RequestBody(buffer: ByteBuffer(bytes: body)))
}

/// A verifier service over an SQLite store in a directory of its own, replaced by a fresh one every
/// `inputsPerStore` requests so a campaign's sessions and audit rows do not grow without bound.
private final class VerifierHarness: Sendable {
    static let adminToken = "fuzz-admin-token-0123456789abcdef"
    static let inputsPerStore = 20_000
    private static let current = Mutex<(harness: VerifierHarness, uses: Int)?>(nil)

    let directory: URL
    let service: AttestationService
    let responder: RouterResponder<BasicRequestContext>

    static func shared(_ context: FuzzContext) -> VerifierHarness {
        current.withLock { current in
            if let (harness, uses) = current, uses < inputsPerStore {
                current = (harness, uses + 1)
                return harness
            }
            current?.harness.remove()
            do {
                let harness = try VerifierHarness(trust: context.trust)
                current = (harness, 1)
                return harness
            } catch {
                fatalError("the verifier-http target cannot set up its service: \(error)")
            }
        }
    }

    private init(trust: TrustStore) throws {
        directory = try ScratchDirectory.make("verifier")
        let store = try SQLiteVerifierStore(path: directory.appendingPathComponent("verifier.sqlite").path)
        service = AttestationService(
            store: store, trust: trust,
            signer: try ResultSigner(key: ECPrivateKey(generating: .p256), build: "fuzz"))
        responder = VerifierRoutes.router(service: service, adminToken: Array(Self.adminToken.utf8)).buildResponder()
    }

    private func remove() {
        ScratchDirectory.remove(directory)
    }

    func respond(
        _ method: HTTPRequest.Method, _ path: String, _ contentType: String?, _ body: [UInt8], admin: Bool = false
    ) -> HTTPResponse.Status {
        let headers: HTTPFields = admin ? [.authorization: "Bearer \(Self.adminToken)"] : [:]
        return status(of: request(method, path, contentType, body, headers: headers), from: responder)
    }

    func newSession() -> String {
        let service = service
        return waiting {
            do {
                return try await service.newSession().id
            } catch {
                fatalError("the verifier-http target cannot open a session: \(error)")
            }
        }
    }

    func storedPolicy(_ id: String) -> Policy? {
        let store = service.store
        return waiting { try? await store.policy(id: id) }
    }

    func storesReferenceValues(_ id: String) -> Bool {
        let store = service.store
        return waiting { (try? await store.referenceValues())?.contains { $0.id == id } ?? false }
    }
}

/// The aggregator host's routes over an in-process aggregator: its ECALL table served on one end of a channel pair
/// (as the enclave process serves it), the relay on the other.
private final class FederationHarness: Sendable {
    private static let current = Mutex<FederationHarness?>(nil)

    let responder: RouterResponder<BasicRequestContext>

    static func shared(_ context: FuzzContext) -> FederationHarness {
        current.withLock { current in
            if let current { return current }
            do {
                let harness = try FederationHarness(context)
                current = harness
                return harness
            } catch {
                fatalError("the federation-http target cannot set up its aggregator: \(error)")
            }
        }
    }

    private init(_ context: FuzzContext) throws {
        let home = PlatformHome(path: try ScratchDirectory.make("platform").appendingPathComponent("home").path)
        let platform = try Platform.initialize(home: home, amdKeyBits: 2048)
        let record = try EnclaveRecord(
            enclaveID: "00000000000000f1",
            identity: EnclaveIdentity(
                measurement: [UInt8](repeating: 0x66, count: 48), signer: SignerIdentity.development.bytes,
                productID: 1, svn: 1, debug: false),
            canonicalManifest: [0], mechanisms: [.landlock], platformID: platform.platformID,
            tcbLevel: platform.tcbLevel, backingStoreDirectory: "/nonexistent")
        var ecalls = EnclaveAggregator(key: context.aggregatorKey).ecalls
        // The quote ECALL as `EnclaveMain.run` answers it, the platform answering in this process.
        ecalls.register(EnclaveMain.quoteFunction) { argument in
            try platform.quote(for: record, binding: QuoteBinding(CBORDecoder().decode(argument)))
        }
        let (hostEnd, enclaveEnd) = try Channel.makePair()
        let server = EnclaveCallServer(channel: enclaveEnd, ecalls: ecalls)
        DispatchQueue(label: "cloister.fuzz.enclave").async { try? server.serve() }
        let relay = AggregatorRelay(caller: EnclaveCaller(channel: hostEnd))
        let client = FuzzContext.client
        let config = FederationConfig(
            plan: try FederationPlan(
                clients: [client], rounds: 1, minClients: 1, roundTimeout: 3600, strategy: .fedAvg, privacy: nil),
            clientKeys: [client: hexEncoded(context.clientKey.publicKey.derRepresentation)],
            model: ModelSpec(kind: .logistic, featureCount: 4, classCount: 2))
        let board = try waiting { () async -> Result<FederationBoard, any Error> in
            do { return .success(try await FederationBoard.begin(config, relay: relay)) } catch {
                return .failure(error)
            }
        }.get()
        responder = FederationRoutes.router(relay: relay, board: board).buildResponder()
    }

    func respond(_ path: String, _ contentType: String?, _ body: [UInt8]) -> HTTPResponse.Status {
        status(of: request(.post, path, contentType, body), from: responder)
    }
}

/// The directories the service targets work in, under the temporary directory, removed when the process exits
/// through `exit` (as libFuzzer ends a run) or when replaced.
private enum ScratchDirectory {
    private static let made = Mutex<[String]?>(nil)

    static func make(_ purpose: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "cloister-fuzz-\(purpose)-\(getpid())-\(hexEncoded(try SecureRandom.bytes(count: 4)))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        made.withLock { made in
            if made == nil { atexit { ScratchDirectory.removeAll() } }
            made = (made ?? []) + [directory.path]
        }
        return directory
    }

    static func remove(_ directory: URL) {
        try? FileManager.default.removeItem(at: directory)
        made.withLock { $0?.removeAll { $0 == directory.path } }
    }

    private static func removeAll() {
        for path in made.withLock({ $0 ?? [] }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
