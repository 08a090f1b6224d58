import Attestation
import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import Foundation
import HTTPService
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Verifier
import VerifierServer

/// A simulated platform, its quotes, and a verifier service over a store.
struct ServiceFixture {
    static let adminToken = "test-admin-token-0123456789"

    let home: PlatformHome
    let platform: Platform
    let record: EnclaveRecord
    let signer: ResultSigner

    init() throws {
        let directory = try TestEnvironment.temporaryDirectory("service")
        home = PlatformHome(path: directory.appendingPathComponent("home").path)
        platform = try Platform.initialize(home: home, amdKeyBits: 2048)
        record = try EnclaveRecord(
            enclaveID: "00000000000000bb",
            identity: EnclaveIdentity(
                measurement: [UInt8](repeating: 0x6d, count: 48), signer: SignerIdentity.development.bytes,
                productID: 3, svn: 1, debug: false),
            canonicalManifest: [9], mechanisms: [.landlock, .notDumpable], platformID: platform.platformID,
            tcbLevel: platform.tcbLevel, backingStoreDirectory: "/nonexistent")
        signer = try ResultSigner(key: ECPrivateKey(generating: .p256), build: "service tests")
    }

    var measurementHex: String { hexString(record.identity.measurement) }

    /// The policy provisioned as "default": this enclave, simulated evidence and the development key accepted.
    var policyJSON: String {
        #"{"id": "default", "measurements": ["\#(measurementHex)"], "allow_simulated": true, "allow_development_keys": true}"#
    }

    func quote(nonce: [UInt8]?) throws -> [UInt8] {
        try platform.quote(for: record, binding: QuoteBinding(nonce: nonce))
    }

    var trust: TrustStore {
        TrustStore(
            cloisterRoots: [platform.rootCertificate], cloisterRevocationLists: platform.revocationLists,
            tcbStatusLists: [platform.tcbStatusList])
    }

    func service(
        store: any VerifierStore, sessionLifetime: TimeInterval = 300,
        maximumOutstandingSessions: Int = AttestationService.defaultMaximumOutstandingSessions
    ) -> AttestationService {
        AttestationService(
            store: store, trust: trust, signer: signer, sessionLifetime: sessionLifetime,
            maximumOutstandingSessions: maximumOutstandingSessions)
    }

    func sqliteStore() throws -> SQLiteVerifierStore {
        try SQLiteVerifierStore(
            path: TestEnvironment.temporaryDirectory("store").appendingPathComponent("verifier.sqlite").path)
    }

    /// The application over `service`, for HummingbirdTesting.
    func application(
        _ service: AttestationService, timeouts: HTTPTimeouts = HTTPTimeouts(),
        sessionRetention: TimeInterval = TimeInterval(SessionCollector.defaultRetention),
        collectionInterval: Duration = .seconds(SessionCollector.defaultInterval)
    ) -> some ApplicationProtocol {
        VerifierServerMain.application(
            service: service, adminToken: Array(Self.adminToken.utf8), host: "127.0.0.1", port: 0, timeouts: timeouts,
            sessionRetention: sessionRetention, collectionInterval: collectionInterval, logger: Logger(label: "test"))
    }

    static var admin: HTTPFields { [.authorization: "Bearer \(adminToken)"] }
    static let quoteType: HTTPFields = [.contentType: EvidenceFormat.cloister.mediaType]
}

extension ByteBuffer {
    /// The body as a JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(readableBytesView))) as? [String: Any] ?? [:]
    }

    var jsonArray: [Any] {
        (try? JSONSerialization.jsonObject(with: Data(readableBytesView))) as? [Any] ?? []
    }
}
