import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import ConfidentialProtocol
import EnclavePlatform
import EnclaveProtocol
import Federated
import Foundation
import Learning
import RelyingParty
import Synchronization
import Testing
import Verifier

/// Everything the host relayed, both directions.
final class Relay: Sendable {
    private let traffic = Mutex<[[UInt8]]>([])
    /// Replaces the enclave's reply to a function (a host that lies).
    let rewrite = Mutex<[String: @Sendable ([UInt8]) -> [UInt8]]>([:])

    func transport(_ caller: EnclaveCaller) -> FederationClient.Transport {
        { function, argument in
            var reply = try caller.call(function, argument)
            if let change = self.rewrite.withLock({ $0[function] }) { reply = change(reply) }
            self.traffic.withLock { $0 += [Array(function.utf8), argument, reply] }
            return reply
        }
    }

    var bytes: [UInt8] { traffic.withLock { $0.flatMap { $0 } } }
    var functions: Set<String> {
        traffic.withLock {
            Set($0.enumerated().filter { $0.offset % 3 == 0 }.map { String(decoding: $0.element, as: UTF8.self) })
        }
    }
}

@Suite("fedavg enclave: attested aggregation of client-signed, HPKE-sealed updates")
struct ConfidentialFederationTests {
    static let spec = ModelSpec(kind: .logistic, featureCount: 3, classCount: 2)

    /// Three registered clients, their keys, and a running aggregator enclave begun with `plan` (its host channel
    /// last, for what only a misbehaving host sends).
    static func withFederation<T>(
        rounds: Int = 2, privacy: ClientLevelPrivacy? = nil, serverOptimizer: ServerOptimizer? = nil,
        measurement: String? = nil,
        _ body: (EnclaveFixture, EnclaveCaller, [FederationClient], Relay, Channel) async throws -> T
    ) async throws -> T {
        let fixture = try EnclaveFixture(manifest: "fedavg")
        let names = ["hospital-a", "hospital-b", "hospital-c"]
        let keys = try names.map { _ in try ECPrivateKey(generating: .p256) }
        let plan = try FederationPlan(
            clients: names, rounds: rounds, minClients: 3, roundTimeout: 60, strategy: .fedAvg, privacy: privacy,
            serverOptimizer: serverOptimizer)
        let config = FederationConfig(
            plan: plan,
            clientKeys: Dictionary(
                uniqueKeysWithValues: zip(names, keys.map { hexEncoded($0.publicKey.derRepresentation) })),
            model: spec)
        return try await fixture.withEnclave { enclave, caller in
            let encoder = JSONEncoder()
            _ = try caller.call(FederationCall.begin, Array(encoder.encode(config)))
            let relay = Relay()
            let appraiser = try fixture.appraiser()
            let clients = zip(names, keys).map { name, key in
                FederationClient(
                    transport: relay.transport(caller), appraiser: appraiser,
                    policy: fixture.policy(measurement: measurement), clientID: name, signingKey: key)
            }
            return try await body(fixture, caller, clients, relay, enclave.host)
        }
    }

    @Test("three clients attest, submit signed sealed updates, and verify each signed global model")
    func rounds() async throws {
        try await Self.withFederation { _, caller, clients, relay, _ in
            var sessions: [FederationClient.Session] = []
            for client in clients { sessions.append(try await client.join()) }
            for round in 1...2 {
                for (index, client) in clients.enumerated() {
                    let state = try await client.state(in: sessions[index])
                    #expect(state.header.openRound == round && state.header.cohort.count == 3)
                    let parameters = state.parameters.map { $0 + Float(index + 1) }
                    let receipt = try await client.submit(
                        parameters, exampleCount: 10 * (index + 1), round: round, in: sessions[index])
                    #expect(receipt.accepted == index + 1)
                }
                _ = try caller.call(FederationCall.close)
                let published = try await clients[0].state(in: sessions[0])
                #expect(published.header.completedRounds == round)
                #expect(Set(published.header.participants) == Set(sessions.map(\.clientID)))
            }
            // Weighted by 10, 20, 30 examples: each round moves every parameter by (1·10 + 2·20 + 3·30)/60 = 7/3.
            let final = try await clients[1].state(in: sessions[1])
            #expect(final.header.openRound == nil && final.header.finishReason == "all 2 rounds ran")
            #expect(final.parameters.allSatisfy { abs($0 - 14.0 / 3) < 1e-5 }, "\(final.parameters)")
            #expect(relay.functions.isSuperset(of: [FederationCall.submit, FederationCall.state]))
        }
    }

    @Test("each signed model carries the clip in force for the next round and the server optimizer's steps")
    func clipAndOptimizer() async throws {
        let privacy = try ClientLevelPrivacy(
            noiseMultiplier: 1, clip: 0.5, delta: 1e-3, clientsPerRound: 3, registeredClients: 3,
            adaptiveClipping: AdaptiveClipping(countNoise: 1))
        try await Self.withFederation(privacy: privacy, serverOptimizer: .fedAvgM(learningRate: 1, momentum: 0.5)) {
            _, caller, clients, _, _ in
            var sessions: [FederationClient.Session] = []
            for client in clients { sessions.append(try await client.join()) }
            let initial = try await clients[0].state(in: sessions[0]).header
            #expect(initial.clipNorm == 0.5 && initial.serverOptimizer?.name == "fedavgm:1.0:0.5")
            #expect(initial.serverOptimizer?.steps == 0)
            var clip = 0.5
            for round in 1...2 {
                for (index, client) in clients.enumerated() {
                    let state = try await client.state(in: sessions[index])
                    _ = try await client.submit(
                        state.parameters.map { $0 + 1 }, exampleCount: 1, round: round, in: sessions[index])
                }
                _ = try caller.call(FederationCall.close)
                let published = try await clients[1].state(in: sessions[1]).header
                #expect(published.serverOptimizer == ServerOptimizerSummary(name: "fedavgm:1.0:0.5", steps: round))
                // The enclave's count noise (σ_b/m = 1/3) is not seeded: the clip moves, by how much is random.
                let next = try #require(published.clipNorm)
                #expect(next > 0 && next != clip, "round \(round): \(clip) -> \(next)")
                clip = next
            }
        }
    }

    @Test("a canary value in a client's update never appears in any byte the host relays")
    func canary() async throws {
        let canary: Float = 8_675.309
        try await Self.withFederation { _, _, clients, relay, _ in
            let session = try await clients[0].join()
            let state = try await clients[0].state(in: session)
            var parameters = state.parameters
            parameters[2] = canary
            _ = try await clients[0].submit(parameters, exampleCount: 5, round: 1, in: session)
            let littleEndian = withUnsafeBytes(of: canary.bitPattern.littleEndian, Array.init)
            #expect(!relay.bytes.containsBytes(littleEndian))
            #expect(!relay.bytes.containsBytes(Array("8675.309".utf8)))
            // The check can fail: the plaintext form of the update holds the canary.
            #expect(SignedStatement<UpdateHeader>.bytes(of: parameters).containsBytes(littleEndian))
        }
    }

    @Test("a client refuses an aggregator of another measurement, sending nothing but the quote request")
    func otherMeasurement() async throws {
        try await Self.withFederation(measurement: String(repeating: "ab", count: 32)) { _, _, clients, relay, _ in
            let error = await #expect(throws: FederationError.self) { try await clients[0].join() }
            #expect(error?.code == .attestationRefused)
            #expect(relay.functions == [EnclaveMain.quoteFunction])
        }
    }

    @Test("a replayed quote and a global model whose signature does not verify are refused")
    func replayAndTamper() async throws {
        try await Self.withFederation { _, _, clients, relay, _ in
            let session = try await clients[0].join()
            let old = Mutex<[UInt8]?>(nil)
            relay.rewrite.withLock {
                $0[EnclaveMain.quoteFunction] = { reply in
                    old.withLock { saved in
                        if saved == nil { saved = reply }
                        return saved!
                    }
                }
            }
            _ = try await clients[1].join()
            let replayed = await #expect(throws: FederationError.self) { try await clients[2].join() }
            #expect(replayed?.code == .attestationRefused && replayed?.reason.contains("nonce") == true)
            relay.rewrite.withLock {
                $0[FederationCall.state] = { reply in
                    var changed = reply
                    changed[changed.count - 5] ^= 1
                    return changed
                }
            }
            let tampered = await #expect(throws: FederationError.self) { try await clients[0].state(in: session) }
            #expect(tampered?.code == .statementRejected)
        }
    }

    @Test("the enclave refuses unknown keys, stale rounds, duplicates, wrong shapes and NaN, and keeps the round")
    func refusals() async throws {
        try await Self.withFederation { fixture, caller, clients, relay, _ in
            var sessions: [FederationClient.Session] = []
            for client in clients { sessions.append(try await client.join()) }
            let good = try await clients[0].state(in: sessions[0]).parameters
            func refused(_ code: FederationError.Code, _ body: () async throws -> Void) async {
                let error = await #expect(throws: FederationError.self) { try await body() }
                #expect(error?.code == code, "\(error?.reason ?? "")")
            }
            let impostor = FederationClient(
                transport: relay.transport(caller), appraiser: try fixture.appraiser(), policy: fixture.policy(),
                clientID: "hospital-b", signingKey: try ECPrivateKey(generating: .p256))
            await refused(.statementRejected) { _ = try await impostor.join() }
            await refused(.unknownClient) {
                _ = try await impostor.submit(good, exampleCount: 1, round: 1, in: sessions[1])
            }
            await refused(.staleRound) {
                _ = try await clients[0].submit(good, exampleCount: 1, round: 2, in: sessions[0])
            }
            await refused(.wrongShape) {
                _ = try await clients[0].submit(good + [0], exampleCount: 1, round: 1, in: sessions[0])
            }
            await refused(.nonFinite) {
                _ = try await clients[0].submit([.nan] + good.dropFirst(), exampleCount: 1, round: 1, in: sessions[0])
            }
            await refused(.nonFinite) {
                _ = try await clients[0].submit(
                    good.dropLast() + [-.infinity], exampleCount: 1, round: 1, in: sessions[0])
            }
            _ = try await clients[0].submit(good, exampleCount: 1, round: 1, in: sessions[0])
            await refused(.duplicateSubmission) {
                _ = try await clients[0].submit(good, exampleCount: 1, round: 1, in: sessions[0])
            }
            await refused(.roundNotReady) { _ = try FederationClient.closing(caller) }
            // The round is intact: the other two complete it.
            _ = try await clients[1].submit(good, exampleCount: 1, round: 1, in: sessions[1])
            _ = try await clients[2].submit(good, exampleCount: 1, round: 1, in: sessions[2])
            _ = try caller.call(FederationCall.close)
            #expect(try await clients[0].state(in: sessions[0]).header.completedRounds == 1)
        }
    }
}

extension ConfidentialFederationTests {
    @Test("oversized and garbage input from the host gets an error reply; the enclave then runs the round")
    func hostileHostInput() async throws {
        try await Self.withFederation(rounds: 1) { _, caller, clients, _, host in
            func refusal(_ function: String, _ argument: [UInt8]) -> EnclaveCallError? {
                #expect(throws: EnclaveCallError.self) { try caller.call(function, argument) }
            }
            // Past the enclave's update limit (and the CBOR decoder's 16 MiB), within the channel's 64 MiB frame.
            let oversized = refusal(
                FederationCall.submit, [UInt8](repeating: 0, count: FederationCall.maximumUpdateSize + 1))
            #expect(
                oversized.flatMap(FederationError.init)?.code == .updateTooLarge, "\(String(describing: oversized))")
            let garbage = refusal(FederationCall.submit, [0xff, 0xfe, 0x00])
            #expect(garbage.flatMap(FederationError.init)?.code == .protocolViolation)
            #expect(refusal(EnclaveMain.quoteFunction, [0xff])?.remoteCode != nil)
            // Past the channel's frame: the host's own channel refuses to send it.
            let unsent = #expect(throws: ChannelError.self) {
                try caller.call(FederationCall.submit, [UInt8](repeating: 0, count: Channel.defaultMaximumFrameSize))
            }
            #expect(unsent?.code == .frameTooLarge)
            // What a host bypassing its channel sends: bytes that are not an ECALL, and a frame past the maximum.
            try host.send([0x18, 0x18])
            let unreadable = try EnclaveCallMessage(decoding: host.receive())
            guard case .ecallResult(EnclaveCallServer.unreadableMessageID, .failed("malformed-message", _)) = unreadable
            else {
                Issue.record("garbage was answered with \(unreadable)")
                return
            }
            let unbounded = Channel(descriptor: try host.descriptor.duplicate(), maximumFrameSize: 128 << 20)
            let sender = Thread {
                try? unbounded.send([UInt8](repeating: 0, count: Channel.defaultMaximumFrameSize + 1))
            }
            sender.start()
            let discarded = try EnclaveCallMessage(decoding: host.receive())
            guard case .ecallResult(EnclaveCallServer.unreadableMessageID, .failed("frame-too-large", _)) = discarded
            else {
                Issue.record("an oversized frame was answered with \(discarded)")
                return
            }
            // The enclave is still up and the round still open: all three clients complete it.
            var sessions: [FederationClient.Session] = []
            for client in clients { sessions.append(try await client.join()) }
            for (index, client) in clients.enumerated() {
                let state = try await client.state(in: sessions[index])
                _ = try await client.submit(state.parameters, exampleCount: 1, round: 1, in: sessions[index])
            }
            _ = try caller.call(FederationCall.close)
            #expect(try await clients[0].state(in: sessions[0]).header.completedRounds == 1)
        }
    }

    @Test("a batch is opened on every core and admitted in order; each bad update is refused alone, naming its check")
    func batch() async throws {
        try await Self.withFederation { _, caller, clients, _, _ in
            var sessions: [FederationClient.Session] = []
            for client in clients { sessions.append(try await client.join()) }
            let good = try await clients[0].state(in: sessions[0]).parameters
            let sealed = try clients.indices.map { index in
                try clients[index].sealedUpdate(
                    good.map { $0 + Float(index) }, exampleCount: 1, round: 1, in: sessions[index]
                ).message
            }
            let poisoned = try clients[1].sealedUpdate(
                [.nan] + good.dropFirst(), exampleCount: 1, round: 1, in: sessions[1]
            ).message
            // A second update from client 0, freshly sealed: a duplicate. The first one replayed: an encapsulation
            // used before.
            let again = try clients[0].sealedUpdate(good, exampleCount: 1, round: 1, in: sessions[0]).message
            let batch = [sealed[0], poisoned, [0xff, 0x00], sealed[1], again, sealed[2], sealed[0]]
            let reply = try caller.call(
                FederationCall.submitBatch, try CBORValue.array(batch.map { .bytes($0) }).encoded())
            let outcomes = try BatchOutcome.decoded(reply, count: batch.count)
            func refusal(_ outcome: BatchOutcome) -> FederationError.Code? {
                if case .refused(let error) = outcome { return error.code }
                return nil
            }
            #expect(refusal(outcomes[1]) == .nonFinite && refusal(outcomes[2]) == .protocolViolation)
            #expect(refusal(outcomes[4]) == .duplicateSubmission)
            guard case .refused(let replayed) = outcomes[6] else {
                Issue.record("a replayed update was accepted")
                return
            }
            #expect(replayed.code == .protocolViolation && replayed.reason.contains("used before"), "\(replayed)")
            let receipts = [outcomes[0], outcomes[3], outcomes[5]].compactMap { outcome -> Receipt? in
                guard case .receipt(let bytes) = outcome else { return nil }
                return try? SignedStatement<Receipt>(signed: bytes, what: "receipt") { _ in sessions[0].enclave.key }
                    .header
            }
            #expect(receipts.map(\.accepted) == [1, 2, 3] && receipts.map(\.client) == sessions.map(\.clientID))
            _ = try caller.call(FederationCall.close)
            let state = try await clients[0].state(in: sessions[0])
            // The mean of +0, +1 and +2: every parameter moves by 1.
            #expect(zip(state.parameters, good).allSatisfy { abs($0 - $1 - 1) < 1e-5 })
            // Not a batch: a CBOR array of something else, garbage, more updates than a batch holds (the count is
            // refused before anything is read), and bytes after the array.
            let tooMany: [UInt8] = [0x99, UInt8((FederationCall.maximumBatchCount + 1) >> 8), 0x01]
            let trailing = try CBORValue.array([.bytes(sealed[0])]).encoded() + [0x00]
            for argument in [try CBORValue.array([.text("x")]).encoded(), [0xff], tooMany, trailing] {
                let error = #expect(throws: EnclaveCallError.self) {
                    try caller.call(FederationCall.submitBatch, argument)
                }
                #expect(error.flatMap(FederationError.init)?.code == .protocolViolation, "\(argument.prefix(4))")
            }
            let oversized = #expect(throws: EnclaveCallError.self) {
                try caller.call(
                    FederationCall.submitBatch, [UInt8](repeating: 0, count: FederationCall.maximumBatchSize + 1))
            }
            #expect(oversized.flatMap(FederationError.init)?.code == .updateTooLarge)
        }
    }

    @Test("a client joining alongside another's session refuses it when its own attested key differs")
    func joinAlongsideAnotherAggregator() async throws {
        try await Self.withFederation { _, _, clients, _, _ in
            let own = try await clients[0].join()
            try await Self.withFederation { _, _, others, _, _ in
                let foreign = try await others[0].join()
                let error = await #expect(throws: FederationError.self) {
                    _ = try await clients[1].join(alongside: foreign)
                }
                #expect(error?.code == .statementRejected && error?.reason.contains("another key") == true)
                // Alongside its own aggregator's session it takes the verified descriptor.
                let session = try await clients[1].join(alongside: own)
                #expect(session.descriptor == own.descriptor && session.clientID == "hospital-b")
            }
        }
    }

    @Test("a client whose aggregator was replaced mid-round stops and says which round to redo")
    func aggregatorReplaced() async throws {
        try await Self.withFederation { _, _, clients, relay, _ in
            let session = try await clients[0].join()
            let data = Dataset(
                featureNames: ["a", "b", "c"], labelName: "y", features: [0.1, 0.2, 0.3, 0.9, 0.8, 0.7],
                labels: [0, 1], classCount: 2)
            let participation = FederatedParticipation(
                client: clients[0], session: session,
                local: try LocalTraining(epochs: 1, batchSize: 2, learningRate: 1),
                pollInterval: .milliseconds(20))
            // Once the update is in, every model comes signed by another key (a restarted enclave's).
            let impostor = try ECPrivateKey(generating: .p256)
            let error = await #expect(throws: FederationError.self) {
                _ = try await participation.run(
                    on: data, deadline: Date().addingTimeInterval(60),
                    submitted: { _ in
                        relay.rewrite.withLock {
                            $0[FederationCall.state] = { reply in
                                guard let state = try? SignedStatement<ModelState>(unverified: reply, what: "model"),
                                    let resigned = try? state.signed(with: impostor)
                                else { return reply }
                                return resigned
                            }
                        }
                    })
            }
            #expect(error?.code == .statementRejected)
            let reason = error?.reason ?? ""
            #expect(reason.contains("closed round 0") && reason.contains("redo round 1"), "\(reason)")
            #expect(reason.contains("update for round 1 was accepted"), "\(reason)")
        }
    }

    @Test("a model whose updates would not fit the update limit is refused when the federation begins")
    func modelPastUpdateLimit() async throws {
        try await Self.withFederation { _, caller, _, _, _ in
            let features = FederationCall.maximumParameterCount / 10
            let plan = try FederationPlan(
                clients: ["a"], rounds: 1, minClients: 1, roundTimeout: 60, strategy: .fedAvg, privacy: nil)
            let config = FederationConfig(
                plan: plan,
                clientKeys: ["a": hexEncoded(try ECPrivateKey(generating: .p256).publicKey.derRepresentation)],
                model: ModelSpec(kind: .softmax, featureCount: features, classCount: 10))
            let error = #expect(throws: EnclaveCallError.self) {
                try caller.call(FederationCall.begin, Array(JSONEncoder().encode(config)))
            }
            #expect(error.flatMap(FederationError.init)?.code == .invalidParameter)
            #expect(error?.reason.contains("would not fit") == true, "\(error?.reason ?? "")")
        }
    }
}

extension FederationClient {
    /// The host's close call, with the enclave's refusal recovered as a federation error.
    static func closing(_ caller: EnclaveCaller) throws -> [UInt8] {
        do {
            return try caller.call(FederationCall.close)
        } catch let error as EnclaveCallError {
            throw FederationError(error) ?? error
        }
    }
}

@Suite("Signed global models")
struct SignedModelStateTests {
    @Test("a model's client-level privacy by any accountant crosses the signature unchanged")
    func privacyByAnyAccountant() async throws {
        let json =
            #"{"cohort":["a"],"completedRounds":3,"federationID":"f","participants":["a"],"privacy":{"delta":0.001,"#
            + #""epsilonPRV":4.79,"noiseMultiplier":1,"samplingRate":0.1,"steps":3}}"#
        let state = try JSONDecoder().decode(ModelState.self, from: Data(json.utf8))
        let key = try ECPrivateKey(generating: .p256)
        let signed = try SignedStatement(header: state, parameters: [1, 2]).signed(with: key)
        let opened = try SignedStatement<ModelState>(signed: signed, what: "the global model") { _ in key.publicKey }
        #expect(opened.header == state && opened.parameters == [1, 2])
        let privacy = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(opened.header.privacy)) as? [String: Any])
        #expect(privacy["epsilonPRV"] as? Double == 4.79 && privacy["epsilonPLD"] == nil)
        // A statement from before clips and server optimizers were published has neither.
        #expect(state.clipNorm == nil && state.serverOptimizer == nil)
    }

    @Test("the clip norm and the server optimizer's summary cross the signature unchanged")
    func clipAndOptimizer() throws {
        let json =
            #"{"clipNorm":0.75,"cohort":[],"completedRounds":1,"federationID":"f","participants":[],"#
            + #""serverOptimizer":{"name":"fedadam:0.1:0.9:0.99:1e-09","steps":1}}"#
        let state = try JSONDecoder().decode(ModelState.self, from: Data(json.utf8))
        #expect(state.clipNorm == 0.75)
        #expect(state.serverOptimizer == ServerOptimizerSummary(name: "fedadam:0.1:0.9:0.99:1e-09", steps: 1))
        let key = try ECPrivateKey(generating: .p256)
        let signed = try SignedStatement(header: state, parameters: [1]).signed(with: key)
        let opened = try SignedStatement<ModelState>(signed: signed, what: "the global model") { _ in key.publicKey }
        #expect(opened.header == state)
    }
}
