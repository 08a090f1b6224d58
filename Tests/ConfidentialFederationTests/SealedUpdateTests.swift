import CloisterCBOR
import CloisterCrypto
import ConfidentialProtocol
import Federated
import Foundation
import Testing

@Suite("Sealed updates: HPKE to the aggregator, the header and encapsulated key signed by the client")
struct SealedUpdateTests {
    let enclaveKey: ECPrivateKey
    let clientKey: ECPrivateKey
    let clientKeys: [String: ECPublicKey]
    static let federationID = "f00d"

    init() throws {
        enclaveKey = try ECPrivateKey(generating: .p256)
        clientKey = try ECPrivateKey(generating: .p256)
        clientKeys = ["hospital-a": clientKey.publicKey]
    }

    func seal(_ parameters: [Float], client: String = "hospital-a", key: ECPrivateKey? = nil) throws -> (
        message: [UInt8], updateDigest: String
    ) {
        try SealedUpdate.seal(
            parameters, exampleCount: 7, round: 3, client: client, federationID: Self.federationID,
            signingKey: key ?? clientKey, to: enclaveKey.publicKey)
    }

    func open(_ message: [UInt8]) throws(FederationError) -> SealedUpdate.Opened {
        try SealedUpdate.open(message, with: enclaveKey, federationID: Self.federationID, clientKeys: clientKeys)
    }

    func refusal(_ message: [UInt8]) -> FederationError? {
        do {
            _ = try open(message)
            return nil
        } catch {
            return error
        }
    }

    /// A sealed update built by hand: `header` signed with `key` (and `signedParameters` inside the statement),
    /// sealed under a fresh encapsulation.
    func handSealed(
        header: (_ encapsulatedKey: [UInt8]) -> UpdateHeader, key: ECPrivateKey, signedParameters: [Float] = []
    ) throws -> [UInt8] {
        var sender = try HPKE.Sender(recipientKey: enclaveKey.publicKey, info: FederationCall.hpkeInfo)
        let statement = try SignedStatement(header: header(sender.encapsulatedKey), parameters: signedParameters)
            .signed(with: key)
        let plaintext = try CBORValue.map([
            CBORMapEntry("parameters", .bytes([0, 0, 128, 63])), CBORMapEntry("statement", .bytes(statement)),
        ]).encoded()
        return try CBORValue.map([
            CBORMapEntry("encapsulated_key", .bytes(sender.encapsulatedKey)),
            CBORMapEntry("ciphertext", .bytes(try sender.seal(plaintext))),
        ]).encoded()
    }

    @Test("seal then open gives the header, the parameters bit for bit and the receipt's digest")
    func roundTrip() throws {
        let parameters: [Float] = [1.5, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 3e-20]
        let (message, digest) = try seal(parameters)
        let opened = try open(message)
        #expect(opened.parameters.map(\.bitPattern) == parameters.map(\.bitPattern))
        #expect(opened.updateDigest == digest)
        #expect(opened.header.client == "hospital-a" && opened.header.round == 3 && opened.header.exampleCount == 7)
        // A second seal of the same update is another ciphertext, named by another digest.
        #expect(try seal(parameters).updateDigest != digest)
    }

    @Test("each check refuses for its own reason")
    func refusals() throws {
        let (message, _) = try seal([1, 2, 3])
        #expect(refusal(message + [0])?.code == .protocolViolation)
        #expect(refusal([UInt8](repeating: 0, count: FederationCall.maximumUpdateSize + 1))?.code == .updateTooLarge)
        #expect(refusal(try seal([1], key: ECPrivateKey(generating: .p256)).message)?.code == .unknownClient)
        #expect(refusal(try seal([1], client: "mallory").message)?.reason.contains("not registered") == true)
        let otherFederation = try handSealed(
            header: {
                UpdateHeader(
                    federationID: "beef", round: 3, client: "hospital-a", exampleCount: 1,
                    encapsulatedKey: hexEncoded($0))
            },
            key: clientKey)
        #expect(refusal(otherFederation)?.code == .staleRound)
        // The client's signed header moved to another encapsulation (here: one it names but that is not this one).
        let elsewhere = try HPKE.Sender(recipientKey: enclaveKey.publicKey, info: FederationCall.hpkeInfo)
        let moved = try handSealed(
            header: { _ in
                UpdateHeader(
                    federationID: Self.federationID, round: 3, client: "hospital-a", exampleCount: 1,
                    encapsulatedKey: hexEncoded(elsewhere.encapsulatedKey))
            }, key: clientKey)
        let error = refusal(moved)
        #expect(error?.code == .unknownClient && error?.reason.contains("another encapsulated key") == true)
        // The same hand-made update naming its own encapsulation opens: the refusal above is the binding's.
        let honest = try handSealed(
            header: {
                UpdateHeader(
                    federationID: Self.federationID, round: 3, client: "hospital-a", exampleCount: 1,
                    encapsulatedKey: hexEncoded($0))
            }, key: clientKey)
        #expect(try open(honest).parameters == [1])
        // Parameters inside the signed statement (a v1-shaped client) are refused, not silently replaced.
        let inside = try handSealed(
            header: {
                UpdateHeader(
                    federationID: Self.federationID, round: 3, client: "hospital-a", exampleCount: 1,
                    encapsulatedKey: hexEncoded($0))
            }, key: clientKey, signedParameters: [2])
        #expect(refusal(inside)?.reason.contains("carries parameters") == true)
        // The outer map's keys out of deterministic order (the host reordering them) are refused.
        let (reordered, _) = try seal([1, 2])
        var cursor = CBORCursor(reordered)
        let fields = try cursor.readByteStringFields(count: 2)
        var swapped = CBORWriter()
        swapped.writeHead(major: 5, argument: 2)
        for name in ["encapsulated_key", "ciphertext"] {
            swapped.writeText(name)
            swapped.writeByteString(reordered[try #require(fields[name])])
        }
        #expect(refusal(swapped.bytes)?.code == .protocolViolation)
    }

    @Test("every byte of a sealed update, flipped, is refused: never opened, never a crash")
    func tamperMatrix() throws {
        let (message, _) = try seal((0..<8).map { Float($0) })
        var codes: [FederationError.Code: Int] = [:]
        for index in message.indices {
            var tampered = message
            tampered[index] ^= 0x01
            let error = refusal(tampered)
            #expect(error != nil, "byte \(index) flipped was accepted")
            if let error { codes[error.code, default: 0] += 1 }
        }
        #expect(codes.values.reduce(0, +) == message.count)
        #expect(codes.keys.allSatisfy { [.protocolViolation].contains($0) }, "\(codes)")
    }
}
