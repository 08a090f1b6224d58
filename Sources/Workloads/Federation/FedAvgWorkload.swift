import CloisterCBOR
public import CloisterCrypto
import ConfidentialProtocol
public import EnclaveProtocol
public import EnclaveSDK
import Federated
import FoundationEssentials
import Learning
import Synchronization

extension BuiltinWorkload {
    /// The federated aggregator (`Manifests/fedavg.toml`): clients verify its quote and seal their updates with HPKE to
    /// the key the quote binds, each update's header signed with the client's registered key (`SealedUpdate`); the
    /// enclave authenticates, validates, clips, aggregates, adds DP-FedAvg noise, accounts client-level privacy, and
    /// signs every global model with that key. The host (`cloister fl serve`) only relays ciphertext and publishes
    /// what the enclave signs. See `FederationCall` for the ECALLs.
    public static let fedavg = BuiltinWorkload(
        name: "fedavg",
        summary: "federated aggregation of HPKE-sealed, client-signed updates; DP-FedAvg; signed global models",
        ecalls: { enclave in
            // Every update copies through several buffers of its size: kept by the allocator, their pages are not
            // faulted in and zeroed afresh for each update (which cost twice the decryption).
            HeapPolicy.keepFreedBuffers(upTo: FederationCall.maximumUpdateSize * 2)
            var table = EnclaveAggregator(key: enclave.key).ecalls
            table.registerHostDrivenMain(
                "fedavg: this workload aggregates updates relayed by `cloister fl serve`")
            return table
        })
}

/// The aggregator inside the enclave: one federation, begun once by the host, then driven by submissions and
/// round closes. Everything it returns is signed with `key` (the key its quote binds).
public final class EnclaveAggregator: Sendable {
    struct Running: Sendable {
        let descriptor: FederationDescriptor
        let signedDescriptor: [UInt8]
        let clientKeys: [String: ECPublicKey]
        var federation: Federation
        var random: BufferedSecureRandom
        var signedState: [UInt8]
        /// Every encapsulation an authenticated update has come in (`SealedUpdate.Opened.encapsulation`): one seen
        /// again is refused, since a reused ephemeral key reuses the AEAD key and nonce.
        var encapsulations: Set<UInt128> = []

        var registry: Registry { Registry(federationID: descriptor.federationID, clientKeys: clientKeys) }
    }

    private let key: ECPrivateKey
    private let state = Mutex<Running?>(nil)

    public init(key: ECPrivateKey) {
        self.key = key
    }

    /// The aggregator's ECALLs (`FederationCall`), each answered by this aggregator.
    public var ecalls: EnclaveCallTable {
        var table = EnclaveCallTable()
        table.register(FederationCall.begin) { try self.begin($0) }
        table.register(FederationCall.descriptor) { _ in try self.running { $0.signedDescriptor } }
        table.register(FederationCall.state) { _ in try self.running { $0.signedState } }
        table.register(FederationCall.submit) { try self.submit($0) }
        table.register(FederationCall.submitBatch) { try self.submitBatch($0) }
        table.register(FederationCall.close) { _ in try self.close() }
        return table
    }

    func running<T>(_ body: (Running) throws -> T) throws -> T {
        try state.withLock { running in
            guard let running else {
                throw FederationError(.roundNotReady, "the federation has not begun")
            }
            return try body(running)
        }
    }

    /// Starts the federation the host's `FederationConfig` describes; refused once begun.
    public func begin(_ argument: [UInt8]) throws -> [UInt8] {
        let config: FederationConfig
        do {
            config = try JSONDecoder().decode(FederationConfig.self, from: Data(argument))
        } catch {
            throw FederationError(.invalidParameter, "the federation configuration is not valid: \(error)")
        }
        guard Set(config.clientKeys.keys) == Set(config.plan.clients) else {
            throw FederationError(.invalidParameter, "the client keys do not match the plan's registered clients")
        }
        var keys: [String: ECPublicKey] = [:]
        for (client, hex) in config.clientKeys {
            guard let der = hexDecoded(hex), let key = try? ECPublicKey(derRepresentation: der), key.curve == .p256
            else {
                throw FederationError(.invalidParameter, "client \"\(client)\" has no valid P-256 public key")
            }
            keys[client] = key
        }
        let initial = try config.model.makeModel().parameters.map(Float.init)
        guard initial.count <= FederationCall.maximumParameterCount else {
            throw FederationError(
                .invalidParameter,
                "the model has \(initial.count) parameters; an update of more than \(FederationCall.maximumParameterCount) would not fit the \(FederationCall.maximumUpdateSize) bytes the aggregator accepts"
            )
        }
        var random = BufferedSecureRandom()
        let federation = try Federation(plan: config.plan, initialModel: initial, at: Date(), random: &random)
        let descriptor = FederationDescriptor(
            federationID: hexEncoded(try SecureRandom.bytes(count: 16)), config: config)
        let signedDescriptor = try SignedStatement(header: descriptor).signed(with: key)
        var running = Running(
            descriptor: descriptor, signedDescriptor: signedDescriptor, clientKeys: keys, federation: federation,
            random: random, signedState: [])
        running.signedState = try signState(of: running, participants: [], privacy: running.federation.privacySpent)
        try state.withLock { current in
            guard current == nil else { throw FederationError(.invalidParameter, "the federation has already begun") }
            current = running
        }
        return signedDescriptor
    }

    /// Opens, authenticates and admits one client update; returns the signed receipt.
    public func submit(_ argument: [UInt8]) throws -> [UInt8] {
        let registry = try running { $0.registry }
        let opened = try SealedUpdate.open(
            argument, with: key, federationID: registry.federationID, clientKeys: registry.clientKeys)
        switch try admit([.success(opened)], concurrently: Federation.serially)[0] {
        case .receipt(let receipt): return receipt
        case .refused(let refusal): throw refusal
        }
    }

    /// Opens and authenticates a batch of updates in parallel, one per core, then admits them in order (a refused
    /// update leaves the round as it was and refuses only itself) with their checks and folding on every core;
    /// returns the batch's `BatchOutcome`s.
    public func submitBatch(_ argument: [UInt8]) throws -> [UInt8] {
        guard argument.count <= FederationCall.maximumBatchSize else {
            throw FederationError(
                .updateTooLarge,
                "the batch takes \(argument.count) bytes; the aggregator accepts at most \(FederationCall.maximumBatchSize)"
            )
        }
        // The array is read in place, each update by the thread that opens it: the batch is tens of megabytes, and
        // a decoder's copies of it would be serial work before any core could start.
        let ranges: [Range<Int>]
        do {
            var cursor = CBORCursor(argument)
            let count = try cursor.readHead(major: 4)
            guard count <= UInt64(FederationCall.maximumBatchCount) else {
                throw CBORError(.malformed, "\(count) updates")
            }
            ranges = try (0..<Int(count)).map { _ throws(CBORError) in try cursor.readByteStringRange() }
            guard cursor.isAtEnd else { throw CBORError(.malformed, "bytes after the array") }
        } catch {
            throw FederationError(
                .protocolViolation,
                "a batch is a CBOR array of at most \(FederationCall.maximumBatchCount) sealed updates (byte strings): \(error)"
            )
        }
        let registry = try running { $0.registry }
        let opened = ParallelWork.map(ranges) { [key] range in
            Result { () throws(FederationError) -> SealedUpdate.Opened in
                try SealedUpdate.open(
                    argument, at: range, with: key, federationID: registry.federationID,
                    clientKeys: registry.clientKeys)
            }
        }
        let outcomes = try admit(opened, concurrently: { count, body in _ = ParallelWork.map(Array(0..<count), body) })
        return try BatchOutcome.encoded(outcomes)
    }

    /// What opening an update needs of the running federation (fixed once it has begun).
    struct Registry: Sendable {
        let federationID: String
        let clientKeys: [String: ECPublicKey]
    }

    /// Admits the opened updates into the open round in order, spreading their checks and folding over `loop`;
    /// returns a signed receipt for each one admitted and the refusal of each other.
    private func admit(
        _ opened: [Result<SealedUpdate.Opened, FederationError>], concurrently loop: Federation.ConcurrentLoop
    ) throws -> [BatchOutcome] {
        try state.withLock { running throws -> [BatchOutcome] in
            guard running != nil else { throw FederationError(.roundNotReady, "the federation has not begun") }
            // An encapsulation seen before is refused before anything else (within the batch too).
            let opened = opened.map { result in
                result.flatMap { update -> Result<SealedUpdate.Opened, FederationError> in
                    guard running!.encapsulations.insert(update.encapsulation).inserted else {
                        return .failure(
                            FederationError(
                                .protocolViolation,
                                "client \"\(update.header.client)\" sealed this update with an encapsulated key used before in the federation: every update needs a fresh ephemeral key (RFC 9180)"
                            ))
                    }
                    return .success(update)
                }
            }
            let submissions = opened.compactMap { result in
                try? result.map { update in
                    Federation.Submission(
                        ClientUpdate(parameters: update.parameters, exampleCount: update.header.exampleCount),
                        from: update.header.client, round: update.header.round)
                }.get()
            }
            // In place: a copy of the running state would copy the round's running sum (8 bytes a parameter).
            var refusals = running!.federation.submit(submissions, concurrently: loop)[...]
            var accepted = running!.federation.round?.participants.count ?? 0
            accepted -= refusals.count { $0 == nil }
            return try opened.map { result throws -> BatchOutcome in
                switch result {
                case .failure(let refusal): return .refused(refusal)
                case .success(let update):
                    if let refusal = refusals.removeFirst() { return .refused(refusal) }
                    accepted += 1
                    let receipt = Receipt(
                        federationID: running!.descriptor.federationID, round: update.header.round,
                        client: update.header.client, updateDigest: update.updateDigest, accepted: accepted)
                    return .receipt(try SignedStatement(header: receipt).signed(with: key))
                }
            }
        }
    }

    /// Closes the open round if the plan lets it close now; returns the signed new global model.
    public func close() throws -> [UInt8] {
        try state.withLock { running throws -> [UInt8] in
            guard var current = running else { throw FederationError(.roundNotReady, "the federation has not begun") }
            let outcome = try current.federation.close(at: Date(), random: &current.random)
            current.signedState = try signState(
                of: current, participants: outcome.participants, privacy: outcome.privacy)
            running = current
            return current.signedState
        }
    }

    private func signState(of running: Running, participants: [String], privacy: PrivacyReport?) throws -> [UInt8] {
        let federation = running.federation
        let header = ModelState(
            federationID: running.descriptor.federationID, completedRounds: federation.completedRounds,
            openRound: federation.round?.number, cohort: federation.round?.cohort ?? [], participants: participants,
            privacy: privacy, finishReason: federation.finishReason, clipNorm: federation.clip,
            serverOptimizer: federation.optimizer?.summary)
        return try SignedStatement(header: header, parameters: federation.globalModel).signed(with: key)
    }
}
