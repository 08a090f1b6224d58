import CloisterCBOR
public import CloisterCrypto
public import ConfidentialProtocol
import EnclaveProtocol
public import Federated
public import Foundation
public import Verifier

/// A data owner's side of a federation. It reaches the aggregator only through `transport` (the untrusted host's
/// relay), sends nothing before the aggregator's quote passes appraisal on a fresh nonce, accepts a federation and
/// global models only when the attested key signed them, and sends its update only HPKE-sealed to the attested key
/// with its header signed by its registered key (`SealedUpdate`).
public struct FederationClient: Sendable {
    /// Calls one of the aggregator's functions (`FederationCall`, `EnclaveMain.quoteFunction`) and returns its reply.
    public typealias Transport = @Sendable (_ function: String, _ argument: [UInt8]) async throws -> [UInt8]

    public let transport: Transport
    public let appraiser: Appraiser
    public let policy: Policy
    /// The identifier this client is registered under; nil to find it in the federation by this client's key.
    public let clientID: String?
    public let signingKey: ECPrivateKey

    public init(
        transport: @escaping Transport, appraiser: Appraiser, policy: Policy, clientID: String?,
        signingKey: ECPrivateKey
    ) {
        // The enclave's refusals (a stale round, a duplicate) come back as the federation errors they are.
        self.transport = { function, argument in
            do {
                return try await transport(function, argument)
            } catch let error as EnclaveCallError {
                throw FederationError(error) ?? error
            }
        }
        self.appraiser = appraiser
        self.policy = policy
        self.clientID = clientID
        self.signingKey = signingKey
    }

    /// An attested aggregator, the federation it signed, and the identifier it registers this client under.
    public struct Session: Sendable {
        public let enclave: AttestedEnclave
        public let descriptor: FederationDescriptor
        public let clientID: String
    }

    /// Attests the aggregator (by default with `appraiser` under `policy`; `attestation` may instead have a verifier
    /// service appraise it) and fetches its signed federation; refuses a federation that does not register this
    /// client under this client's key. Given the session of another client of the same federation (`alongside`, as
    /// a simulation's clients share one), the client still attests on its own nonce, and takes that session's
    /// verified descriptor only when its own attested key is the one that verified it.
    public func join(
        at time: Date = Date(), attestation: (@Sendable (_ call: Transport) async throws -> AttestedEnclave)? = nil,
        alongside member: Session? = nil
    ) async throws -> Session {
        let enclave: AttestedEnclave
        do {
            if let attestation {
                enclave = try await attestation(transport)
            } else {
                enclave = try await appraiser.attestEnclave(policy: policy, at: time, call: transport)
            }
        } catch let refusal as AttestationRefusal {
            throw FederationError(.attestationRefused, refusal.reason)
        }
        let descriptor: FederationDescriptor
        if let member {
            guard enclave.key.derRepresentation == member.enclave.key.derRepresentation else {
                throw FederationError(
                    .statementRejected, "the aggregator attested another key than the one that signed the federation")
            }
            descriptor = member.descriptor
        } else {
            descriptor = try SignedStatement<FederationDescriptor>(
                signed: await transport(FederationCall.descriptor, []), what: "the federation descriptor"
            ) { _ in enclave.key }.header
        }
        let ownKey = hexEncoded(signingKey.publicKey.derRepresentation)
        let keys = descriptor.config.clientKeys
        let id: String
        if let clientID, keys[clientID] == ownKey {
            id = clientID
        } else if clientID == nil, let registered = keys.filter({ $0.value == ownKey }).map(\.key).min() {
            id = registered
        } else {
            throw FederationError(
                .statementRejected,
                "the federation does not register \(clientID.map { "client \"\($0)\"" } ?? "any client") with this client's key"
            )
        }
        return Session(enclave: enclave, descriptor: descriptor, clientID: id)
    }

    /// The current global model, verified: signed by the attested key, for this federation. With `query`, a host
    /// that supports it holds the request until a state answers the query (`StateQuery`) or its wait ends.
    public func state(in session: Session, waitingFor query: StateQuery? = nil) async throws -> SignedStatement<
        ModelState
    > {
        let state = try SignedStatement<ModelState>(
            signed: await transport(FederationCall.state, query?.argument ?? []), what: "the global model"
        ) { _ in session.enclave.key }
        guard state.header.federationID == session.descriptor.federationID else {
            throw FederationError(.statementRejected, "the global model belongs to another federation")
        }
        return state
    }

    /// Signs and seals `parameters` for `round` and submits them; returns the aggregator's verified receipt.
    public func submit(_ parameters: [Float], exampleCount: Int, round: Int, in session: Session) async throws
        -> Receipt
    {
        let (message, digest) = try sealedUpdate(parameters, exampleCount: exampleCount, round: round, in: session)
        let receipt = try SignedStatement<Receipt>(
            signed: await transport(FederationCall.submit, message), what: "the aggregator's receipt"
        ) { _ in session.enclave.key }.header
        guard receipt.federationID == session.descriptor.federationID, receipt.round == round,
            receipt.client == session.clientID,
            receipt.updateDigest == digest
        else {
            throw FederationError(.statementRejected, "the receipt acknowledges another update")
        }
        return receipt
    }

    /// The `fedavg.submit` argument for `parameters` (`SealedUpdate`): sealed with HPKE to the attested key, its
    /// header signed with this client's key; and the digest its receipt names it by.
    public func sealedUpdate(
        _ parameters: [Float], exampleCount: Int, round: Int, in session: Session
    ) throws -> (message: [UInt8], updateDigest: String) {
        try SealedUpdate.seal(
            parameters, exampleCount: exampleCount, round: round, client: session.clientID,
            federationID: session.descriptor.federationID, signingKey: signingKey, to: session.enclave.key)
    }
}
