import CloisterTestSupport
import Testing

@testable import CloisterCrypto

private struct HPKEVector: Decodable {
    struct Encryption: Decodable {
        let seq: Int
        let pt: String
        let aad: String
        let nonce: String
        let ct: String
    }
    struct Export: Decodable {
        let context: String
        let length: Int
        let value: String
    }
    let info, ikmE, pkEm, skEm, ikmR, pkRm, skRm, enc: String
    let shared_secret, key_schedule_context, secret, key, base_nonce, exporter_secret: String
    let encryptions: [Encryption]
    let exports: [Export]
}

@Suite("HPKE (RFC 9180 Appendix A.3, base mode)")
struct HPKETests {
    private let vector: HPKEVector

    init() throws {
        vector = try loadVectors("rfc9180-a3-p256-sha256-aes128gcm.json")
    }

    @Test("DeriveKeyPair gives the published ephemeral and recipient keys")
    func deriveKeyPair() throws {
        let ephemeral = try HPKE.deriveKeyPair(inputKeyMaterial: bytes(fromHex: vector.ikmE))
        #expect(hexString(ephemeral.rawRepresentation) == vector.skEm)
        #expect(hexString(ephemeral.publicKey.x963Representation) == vector.pkEm)
        let recipient = try HPKE.deriveKeyPair(inputKeyMaterial: bytes(fromHex: vector.ikmR))
        #expect(hexString(recipient.rawRepresentation) == vector.skRm)
        #expect(hexString(recipient.publicKey.x963Representation) == vector.pkRm)
    }

    @Test("Encap and Decap give enc and the shared secret; the key schedule gives key, base_nonce, exporter_secret")
    func keySchedule() throws {
        let ephemeral = try ECPrivateKey(rawRepresentation: bytes(fromHex: vector.skEm), curve: .p256)
        let recipient = try ECPrivateKey(rawRepresentation: bytes(fromHex: vector.skRm), curve: .p256)
        let (sharedSecret, enc) = try DHKEM.encapsulate(to: recipient.publicKey, ephemeral: ephemeral)
        #expect(hexString(enc) == vector.enc)
        #expect(hexString(sharedSecret) == vector.shared_secret)
        #expect(hexString(try DHKEM.decapsulate(enc, recipient: recipient)) == vector.shared_secret)
        let schedule = try KeySchedule(
            sharedSecret: sharedSecret, info: bytes(fromHex: vector.info), suite: .p256SHA256AES128GCM)
        #expect(hexString(schedule.baseNonce) == vector.base_nonce)
        #expect(hexString(schedule.exporterSecret) == vector.exporter_secret)
        #expect(schedule.key.byteCount == 16)
        let expectedKey = try AESGCMKey(bytes(fromHex: vector.key))
        let probe = try expectedKey.seal([1, 2, 3], nonce: bytes(fromHex: vector.base_nonce))
        #expect(try schedule.key.seal([1, 2, 3], nonce: bytes(fromHex: vector.base_nonce)) == probe)
    }

    @Test("every published encryption (sequence numbers 0, 1, 2, 4, 255, 256) and every export")
    func encryptionsAndExports() throws {
        let ephemeral = try ECPrivateKey(rawRepresentation: bytes(fromHex: vector.skEm), curve: .p256)
        let recipientKey = try ECPrivateKey(rawRepresentation: bytes(fromHex: vector.skRm), curve: .p256)
        let info = bytes(fromHex: vector.info)
        var sender = try HPKE.Sender(recipientKey: recipientKey.publicKey, info: info, ephemeralKey: ephemeral)
        #expect(hexString(sender.encapsulatedKey) == vector.enc)
        var recipient = try HPKE.Recipient(
            privateKey: recipientKey, encapsulatedKey: sender.encapsulatedKey, info: info)
        let published = Dictionary(uniqueKeysWithValues: vector.encryptions.map { ($0.seq, $0) })
        #expect(published.keys.sorted() == [0, 1, 2, 4, 255, 256])
        for sequence in 0...256 {
            // Messages between the published ones move both contexts along, as the RFC's generator did.
            let pt = published[sequence].map { bytes(fromHex: $0.pt) } ?? Array("filler \(sequence)".utf8)
            let aad = published[sequence].map { bytes(fromHex: $0.aad) } ?? Array("Count-\(sequence)".utf8)
            let ciphertext = try sender.seal(pt, associatedData: aad)
            if let expected = published[sequence] {
                #expect(hexString(ciphertext) == expected.ct, "sequence \(sequence)")
            }
            #expect(try recipient.open(ciphertext, associatedData: aad) == pt)
        }
        for export in vector.exports {
            let context = bytes(fromHex: export.context)
            #expect(hexString(try sender.exportSecret(context: context, length: export.length)) == export.value)
            #expect(hexString(try recipient.exportSecret(context: context, length: export.length)) == export.value)
        }
    }

    @Test("tampered ciphertext, associated data, info, wrong key and bad encapsulated keys are refused")
    func negatives() throws {
        let recipientKey = try ECPrivateKey(generating: .p256)
        let info = Array("cloister test".utf8)
        let (enc, ciphertext) = try HPKE.seal(
            Array("canary".utf8), to: recipientKey.publicKey, info: info, associatedData: [7])
        #expect(
            try HPKE.open(ciphertext, encapsulatedKey: enc, privateKey: recipientKey, info: info, associatedData: [7])
                == Array("canary".utf8))
        var altered = ciphertext
        altered[0] ^= 1
        #expect(throws: CryptoError.self) {
            try HPKE.open(altered, encapsulatedKey: enc, privateKey: recipientKey, info: info, associatedData: [7])
        }
        #expect(throws: CryptoError.self) {
            try HPKE.open(ciphertext, encapsulatedKey: enc, privateKey: recipientKey, info: info, associatedData: [8])
        }
        #expect(throws: CryptoError.self) {
            try HPKE.open(ciphertext, encapsulatedKey: enc, privateKey: recipientKey, info: [], associatedData: [7])
        }
        #expect(throws: CryptoError.self) {
            try HPKE.open(
                ciphertext, encapsulatedKey: enc, privateKey: ECPrivateKey(generating: .p256), info: info,
                associatedData: [7])
        }
        var offCurve = enc
        offCurve[64] ^= 1
        #expect(throws: CryptoError.self) {
            try HPKE.Recipient(privateKey: recipientKey, encapsulatedKey: offCurve, info: info)
        }
        #expect(throws: CryptoError.self) {
            try HPKE.Recipient(privateKey: recipientKey, encapsulatedKey: Array(enc.prefix(33)), info: info)
        }
        #expect(throws: CryptoError.self) {
            try HPKE.Sender(recipientKey: ECPrivateKey(generating: .p384).publicKey, info: info)
        }
    }

    @Test("the last sequence number still seals; the next one throws on both sides instead of reusing a nonce")
    func sequenceExhaustion() throws {
        let recipientKey = try ECPrivateKey(generating: .p256)
        var sender = try HPKE.Sender(recipientKey: recipientKey.publicKey, info: [1])
        var recipient = try HPKE.Recipient(
            privateKey: recipientKey, encapsulatedKey: sender.encapsulatedKey, info: [1])
        sender.context.sequenceNumber = UInt64.max - 1
        recipient.context.sequenceNumber = UInt64.max - 1
        let last = try sender.seal([42])
        #expect(try recipient.open(last) == [42])
        let exhausted = CryptoError(
            .invalidParameter, "HPKE context sequence number exhausted; set up a new context")
        #expect(throws: exhausted) { try sender.seal([43]) }
        #expect(throws: exhausted) { try recipient.open(last) }
        #expect(sender.context.sequenceNumber == UInt64.max)
    }

    @Test("the nonce is base_nonce XOR the big-endian sequence number")
    func nonceSchedule() throws {
        let recipientKey = try ECPrivateKey(rawRepresentation: bytes(fromHex: vector.skRm), curve: .p256)
        let ephemeral = try ECPrivateKey(rawRepresentation: bytes(fromHex: vector.skEm), curve: .p256)
        var sender = try HPKE.Sender(
            recipientKey: recipientKey.publicKey, info: bytes(fromHex: vector.info), ephemeralKey: ephemeral)
        let key = try AESGCMKey(bytes(fromHex: vector.key))
        for published in vector.encryptions {
            sender.context.sequenceNumber = UInt64(published.seq)
            let ciphertext = try sender.seal(
                bytes(fromHex: published.pt), associatedData: bytes(fromHex: published.aad))
            #expect(hexString(ciphertext) == published.ct)
            let direct = try key.seal(
                bytes(fromHex: published.pt), nonce: bytes(fromHex: published.nonce),
                associatedData: bytes(fromHex: published.aad))
            #expect(direct == ciphertext, "sequence \(published.seq)")
        }
    }

    @Test("exports outside 1...255·Nh bytes are refused")
    func exportLimits() throws {
        let recipientKey = try ECPrivateKey(generating: .p256)
        let sender = try HPKE.Sender(recipientKey: recipientKey.publicKey, info: [])
        #expect(throws: CryptoError.self) { try sender.exportSecret(context: [], length: 0) }
        #expect(throws: CryptoError.self) { try sender.exportSecret(context: [], length: 255 * 32 + 1) }
        #expect(try sender.exportSecret(context: [], length: 255 * 32).count == 255 * 32)
    }

    @Test("AES-256-GCM suite round trip; a message opened out of order fails and does not advance the context")
    func orderAndSuite() throws {
        let recipientKey = try ECPrivateKey(generating: .p256)
        var sender = try HPKE.Sender(recipientKey: recipientKey.publicKey, info: [], suite: .p256SHA256AES256GCM)
        let first = try sender.seal([1])
        let second = try sender.seal([2])
        var recipient = try HPKE.Recipient(
            privateKey: recipientKey, encapsulatedKey: sender.encapsulatedKey, info: [], suite: .p256SHA256AES256GCM)
        #expect(throws: CryptoError.self) { try recipient.open(second) }
        #expect(try recipient.open(first) == [1])
        #expect(try recipient.open(second) == [2])
    }
}
