import CloisterCBOR
public import CloisterCrypto
public import Federated
import FoundationEssentials

/// A client's update as it travels to the aggregator, through the untrusted host: CBOR {"encapsulated_key",
/// "ciphertext"}, an HPKE base-mode message to the attested key (`FederationCall.hpkeInfo`) whose plaintext is CBOR
/// {"parameters": float32 little-endian, "statement": `SignedStatement<UpdateHeader>` without parameters}.
///
/// The client signs its header (federation, round, client, example count) together with the message's encapsulated
/// key, not the parameters. The AEAD authenticates the parameters under a key that only the holder of that
/// encapsulation's ephemeral private key (the client) or the aggregator's key can derive, so a signature on the
/// encapsulated key binds the client to that encapsulation: neither the host nor another client can make a ciphertext
/// open under it, or move the signed header to an encapsulation of their own. The aggregator checks a
/// million-parameter update with one ECDSA verification of a few hundred bytes and the AES-GCM pass it needs anyway,
/// instead of hashing the 4 MB a second time.
///
/// What it does not give: the signature does not commit the client to one set of parameters. The client knows the
/// AEAD key, and GCM is not key-committing, so it could make two ciphertexts with the same tag; a receipt names the
/// update it acknowledges only for parties without that key, and is no evidence against its client of what it sent.
/// And the host's inability to alter an update rests on the ephemeral key being fresh for every update, as RFC 9180
/// requires (every message is sealed at sequence number 0): the aggregator refuses an encapsulated key it has seen
/// before in the federation, so a client that reuses one fails closed.
public enum SealedUpdate {
    /// `parameters` for `round`, signed with `signingKey` (the client's registered key) and sealed to `enclaveKey`;
    /// and the digest the aggregator's receipt names it by (`Receipt.digest(encapsulatedKey:ciphertext:)`).
    public static func seal(
        _ parameters: [Float], exampleCount: Int, round: Int, client: String, federationID: String,
        signingKey: ECPrivateKey, to enclaveKey: ECPublicKey
    ) throws -> (message: [UInt8], updateDigest: String) {
        var sender = try HPKE.Sender(recipientKey: enclaveKey, info: FederationCall.hpkeInfo)
        let header = UpdateHeader(
            federationID: federationID, round: round, client: client, exampleCount: exampleCount,
            encapsulatedKey: hexEncoded(sender.encapsulatedKey))
        let plaintext = try CBORValue.map([
            CBORMapEntry("parameters", .bytes(SignedStatement<UpdateHeader>.bytes(of: parameters))),
            CBORMapEntry("statement", .bytes(SignedStatement(header: header).signed(with: signingKey))),
        ]).encoded()
        let ciphertext = try sender.seal(plaintext)
        let message = try CBORValue.map([
            CBORMapEntry("encapsulated_key", .bytes(sender.encapsulatedKey)),
            CBORMapEntry("ciphertext", .bytes(ciphertext)),
        ]).encoded()
        return (message, Receipt.digest(encapsulatedKey: sender.encapsulatedKey, ciphertext: ciphertext[...]))
    }

    /// An update opened and authenticated: its signed header, its parameters, the digest its receipt names, and
    /// the encapsulation it came in.
    public struct Opened: Sendable {
        public let header: UpdateHeader
        public let parameters: [Float]
        public let updateDigest: String
        /// The first 128 bits of the encapsulated key's x-coordinate: it names the encapsulation (two fresh keys share
        /// it with probability 2⁻¹²⁸), so the aggregator can refuse one used twice.
        public let encapsulation: UInt128
    }

    /// Opens `message` (or the `range` of it that holds the update, one of a batch) with the aggregator's `key` and
    /// authenticates it: the signed header must verify with the registered key of the client it names
    /// (`clientKeys`), name this message's encapsulated key, and belong to federation `federationID`. Throws naming
    /// the check that failed; reads the megabytes of the message in place.
    public static func open(
        _ message: [UInt8], at range: Range<Int>? = nil, with key: ECPrivateKey, federationID: String,
        clientKeys: [String: ECPublicKey]
    ) throws(FederationError) -> Opened {
        let range = range ?? message.indices
        guard range.count <= FederationCall.maximumUpdateSize else {
            throw FederationError(
                .updateTooLarge,
                "the update takes \(range.count) bytes; the aggregator accepts at most \(FederationCall.maximumUpdateSize)"
            )
        }
        // Deterministic CBOR, as `seal` writes it.
        var cursor = CBORCursor(message, range: range)
        let fields = try? cursor.readByteStringFields(count: 2)
        guard cursor.isAtEnd, let keyRange = fields?["encapsulated_key"], let ciphertext = fields?["ciphertext"] else {
            throw FederationError(
                .protocolViolation, "an update is the deterministic CBOR map {encapsulated_key, ciphertext}")
        }
        let encapsulatedKey = Array(message[keyRange])
        let plaintext: [UInt8]
        do {
            plaintext = try HPKE.open(
                message[ciphertext], encapsulatedKey: encapsulatedKey, privateKey: key, info: FederationCall.hpkeInfo)
        } catch {
            throw FederationError(.protocolViolation, "the update does not open with the aggregator's key: \(error)")
        }
        var inner = CBORCursor(plaintext)
        let parts = try? inner.readByteStringFields(count: 2)
        guard inner.isAtEnd, let statement = parts?["statement"], let vector = parts?["parameters"],
            vector.count % 4 == 0
        else {
            throw FederationError(
                .protocolViolation, "a sealed update holds the CBOR map {parameters (float32), statement}")
        }
        let signed = try SignedStatement<UpdateHeader>(
            signed: Array(plaintext[statement]), what: "the update's header", rejection: .unknownClient
        ) { header throws(FederationError) in
            guard let key = clientKeys[header.client] else {
                throw FederationError(.unknownClient, "client \"\(header.client)\" is not registered")
            }
            return key
        }
        guard signed.parameters.isEmpty else {
            throw FederationError(
                .protocolViolation, "the update's signed header carries parameters: they travel beside it, not in it")
        }
        let header = signed.header
        guard header.encapsulatedKey == hexEncoded(encapsulatedKey) else {
            throw FederationError(
                .unknownClient,
                "the header client \"\(header.client)\" signed is for another sealed update (another encapsulated key)")
        }
        guard header.federationID == federationID else {
            throw FederationError(.staleRound, "the update is for another federation")
        }
        // A P-256 point that opened is 0x04 ‖ x ‖ y: 65 bytes.
        let encapsulation = encapsulatedKey[1...16].reduce(UInt128(0)) { $0 << 8 | UInt128($1) }
        return Opened(
            header: header, parameters: SignedStatement<UpdateHeader>.floats(of: plaintext[vector]),
            updateDigest: Receipt.digest(encapsulatedKey: encapsulatedKey, ciphertext: message[ciphertext]),
            encapsulation: encapsulation)
    }
}
