import CloisterCrypto
import CloisterTestSupport
import Testing

@Suite("EC keys, ECDSA and ECDH")
struct ECKeyTests {
    @Test(
        "sign and verify on both curves; tampered message, other key and altered signature fail",
        arguments: ECCurve.allCases)
    func signVerify(curve: ECCurve) throws {
        let key = try ECPrivateKey(generating: curve)
        let message = Array("attestation payload".utf8)
        let signature = try key.signature(for: message)
        #expect(signature.rawRepresentation.count == 2 * curve.coordinateByteCount)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: message + [0]))
        #expect(!(try ECPrivateKey(generating: curve)).publicKey.isValidSignature(signature, for: message))
        for index in [0, signature.rawRepresentation.count / 2, signature.rawRepresentation.count - 1] {
            var raw = signature.rawRepresentation
            raw[index] ^= 1
            #expect(
                !key.publicKey.isValidSignature(try ECDSASignature(rawRepresentation: raw, curve: curve), for: message))
        }
        // A signature hashed with another digest does not verify under the curve's default.
        let sha512Signature = try key.signature(for: message, digest: .sha512)
        #expect(key.publicKey.isValidSignature(sha512Signature, for: message, digest: .sha512))
        #expect(!key.publicKey.isValidSignature(sha512Signature, for: message))
    }

    @Test(
        "raw r||s and DER convert both ways; wrong lengths and non-canonical DER are refused",
        arguments: ECCurve.allCases)
    func signatureEncodings(curve: ECCurve) throws {
        let key = try ECPrivateKey(generating: curve)
        let signature = try key.signature(for: [1, 2, 3])
        let der = try signature.derRepresentation
        #expect(try ECDSASignature(derRepresentation: der, curve: curve) == signature)
        let width = 2 * curve.coordinateByteCount
        #expect(throws: CryptoError.self) {
            try ECDSASignature(rawRepresentation: [UInt8](repeating: 1, count: width - 1), curve: curve)
        }
        #expect(throws: CryptoError.self) {
            try ECDSASignature(rawRepresentation: [UInt8](repeating: 1, count: width + 1), curve: curve)
        }
        // BER long-form length for the SEQUENCE: valid BER, not DER.
        var ber = der
        ber.replaceSubrange(1...1, with: [0x81, der[1]])
        #expect(throws: CryptoError.self) { try ECDSASignature(derRepresentation: ber, curve: curve) }
        // r with one more leading zero byte than DER allows: a non-minimal INTEGER.
        let padded = [0x30, der[1] + 1, 0x02, der[3] + 1, 0x00] + der[4...]
        #expect(throws: CryptoError.self) { try ECDSASignature(derRepresentation: padded, curve: curve) }
        #expect(throws: CryptoError.self) { try ECDSASignature(derRepresentation: der + [0x00], curve: curve) }
        #expect(throws: CryptoError.self) { try ECDSASignature(derRepresentation: Array(der.dropLast()), curve: curve) }
        #expect(throws: CryptoError.self) { try ECDSASignature(derRepresentation: [UInt8](), curve: curve) }
    }

    @Test("DER INTEGERs are minimal: a high bit gets one 0x00, leading zero bytes are dropped, zero is one byte")
    func signatureDERKnownAnswers() throws {
        let high = [0x80] + [UInt8](repeating: 0, count: 31)
        let small = [UInt8](repeating: 0, count: 31) + [0x01]
        let signature = try ECDSASignature(rawRepresentation: high + small, curve: .p256)
        let expected: [UInt8] = [0x30, 0x26, 0x02, 0x21, 0x00] + high + [0x02, 0x01, 0x01]
        #expect(signature.derRepresentation == expected)
        #expect(try ECDSASignature(derRepresentation: expected, curve: .p256) == signature)
        let zero = try ECDSASignature(rawRepresentation: [UInt8](repeating: 0, count: 96), curve: .p384)
        #expect(zero.derRepresentation == [0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00])
        // Negative INTEGER, an INTEGER wider than the curve, and an empty INTEGER.
        #expect(throws: CryptoError.self) {
            try ECDSASignature(derRepresentation: [0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01], curve: .p256)
        }
        let wide: [UInt8] = [0x30, 0x26, 0x02, 0x21, 0x01] + [UInt8](repeating: 0, count: 32) + [0x02, 0x01, 0x01]
        #expect(throws: CryptoError.self) { try ECDSASignature(derRepresentation: wide, curve: .p256) }
        #expect(throws: CryptoError.self) {
            try ECDSASignature(derRepresentation: [0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01], curve: .p256)
        }
    }

    @Test("OpenSSL verifies every signature through the Swift DER encoder (r or s with the high bit set or short)")
    func signatureDERAgainstOpenSSL() throws {
        let key = try ECPrivateKey(generating: .p256)
        for index in 0..<256 {
            let message = [UInt8(index)]
            let signature = try key.signature(for: message)
            #expect(key.publicKey.isValidSignature(signature, for: message))
            #expect(try ECDSASignature(derRepresentation: signature.derRepresentation, curve: .p256) == signature)
        }
    }

    @Test("a signature sized for the other curve never verifies")
    func wrongLengthSignature() throws {
        let p256 = try ECPrivateKey(generating: .p256)
        let p384 = try ECPrivateKey(generating: .p384)
        let message = Array("measurement".utf8)
        let p384Signature = try p384.signature(for: message)
        #expect(!p256.publicKey.isValidSignature(p384Signature, for: message))
        #expect(!p256.publicKey.isValidSignature(p384Signature, for: message, digest: .sha384))
        let p256Signature = try p256.signature(for: message)
        #expect(!p384.publicKey.isValidSignature(p256Signature, for: message))
    }

    @Test("RFC 6979 A.2.5: the published P-256/SHA-256 signature over \"sample\" verifies, altered it fails")
    func rfc6979KnownSignature() throws {
        let publicKey = try ECPublicKey(
            x963Representation: bytes(
                fromHex: "04"
                    + "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
                    + "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"),
            curve: .p256)
        let signature = try ECDSASignature(
            rawRepresentation: bytes(
                fromHex:
                    "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
                    + "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"),
            curve: .p256)
        #expect(publicKey.isValidSignature(signature, for: Array("sample".utf8)))
        #expect(!publicKey.isValidSignature(signature, for: Array("test".utf8)))
        for index in [0, 63] {
            var altered = signature.rawRepresentation
            altered[index] ^= 0x01
            let alteredSignature = try ECDSASignature(rawRepresentation: altered, curve: .p256)
            #expect(!publicKey.isValidSignature(alteredSignature, for: Array("sample".utf8)))
        }
        // The private key of RFC 6979 A.2.5 derives exactly the published public key.
        let privateKey = try ECPrivateKey(
            rawRepresentation: bytes(fromHex: "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721"),
            curve: .p256)
        #expect(privateKey.publicKey == publicKey)
    }

    @Test("private keys round-trip through PKCS#8 and SEC 1, PEM and DER", arguments: ECCurve.allCases)
    func privateKeyEncodings(curve: ECCurve) throws {
        let key = try ECPrivateKey(generating: curve)
        for reloaded in [
            try ECPrivateKey(pemRepresentation: key.pkcs8PEMRepresentation),
            try ECPrivateKey(pemRepresentation: key.sec1PEMRepresentation),
            try ECPrivateKey(derRepresentation: key.pkcs8DERRepresentation),
            try ECPrivateKey(derRepresentation: key.sec1DERRepresentation),
            try ECPrivateKey(rawRepresentation: key.rawRepresentation, curve: curve),
        ] {
            #expect(reloaded.curve == curve)
            #expect(reloaded.rawRepresentation == key.rawRepresentation)
            #expect(reloaded.publicKey == key.publicKey)
        }
        #expect(key.pkcs8PEMRepresentation.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        #expect(key.sec1PEMRepresentation.hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
    }

    @Test("public keys round-trip through SPKI PEM/DER and X9.63 points", arguments: ECCurve.allCases)
    func publicKeyEncodings(curve: ECCurve) throws {
        let key = try ECPrivateKey(generating: curve).publicKey
        #expect(try ECPublicKey(pemRepresentation: key.pemRepresentation) == key)
        #expect(try ECPublicKey(derRepresentation: key.derRepresentation) == key)
        #expect(try ECPublicKey(x963Representation: key.x963Representation, curve: curve) == key)
        #expect(key.pemRepresentation.hasPrefix("-----BEGIN PUBLIC KEY-----"))
    }

    @Test("points off the curve, wrong lengths, compressed points and scalars out of range are refused")
    func invalidKeys() throws {
        var point = try ECPrivateKey(generating: .p256).publicKey.x963Representation
        point[64] ^= 1
        #expect(throws: CryptoError.self) { try ECPublicKey(x963Representation: point, curve: .p256) }
        #expect(throws: CryptoError.self) { try ECPublicKey(x963Representation: Array(point.prefix(33)), curve: .p256) }
        #expect(throws: CryptoError.self) { try ECPublicKey(x963Representation: point, curve: .p384) }
        #expect(throws: CryptoError.self) {
            try ECPrivateKey(rawRepresentation: [UInt8](repeating: 0, count: 32), curve: .p256)
        }
        #expect(throws: CryptoError.self) {
            try ECPrivateKey(rawRepresentation: [UInt8](repeating: 0xff, count: 32), curve: .p256)
        }
        #expect(throws: CryptoError.self) {
            try ECPrivateKey(pemRepresentation: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        }
        #expect(throws: CryptoError.self) { try ECPublicKey(derRepresentation: [0x30, 0x03, 0x02, 0x01, 0x00]) }
    }

    @Test("ECDH agrees both ways and refuses a peer on another curve", arguments: ECCurve.allCases)
    func ecdh(curve: ECCurve) throws {
        let alice = try ECPrivateKey(generating: curve)
        let bob = try ECPrivateKey(generating: curve)
        let shared = try alice.sharedSecret(with: bob.publicKey)
        #expect(shared.count == curve.coordinateByteCount)
        #expect(shared == (try bob.sharedSecret(with: alice.publicKey)))
        #expect(shared != (try alice.sharedSecret(with: ECPrivateKey(generating: curve).publicKey)))
        let other: ECCurve = curve == .p256 ? .p384 : .p256
        #expect(throws: CryptoError.self) { try alice.sharedSecret(with: ECPrivateKey(generating: other).publicKey) }
    }

    @Test("ECDH still agrees after both keys round-trip through PEM")
    func ecdhAfterReload() throws {
        let alice = try ECPrivateKey(generating: .p256)
        let bob = try ECPrivateKey(generating: .p256)
        let reloadedBob = try ECPublicKey(pemRepresentation: bob.publicKey.pemRepresentation)
        let reloadedAlice = try ECPrivateKey(pemRepresentation: alice.sec1PEMRepresentation)
        #expect(try reloadedAlice.sharedSecret(with: reloadedBob) == (try bob.sharedSecret(with: alice.publicKey)))
    }

    @Test("secure random bytes have the asked length and differ between calls")
    func random() throws {
        #expect(try SecureRandom.bytes(count: 0).isEmpty)
        #expect(try SecureRandom.bytes(count: 32) != (try SecureRandom.bytes(count: 32)))
        #expect(throws: CryptoError.self) { try SecureRandom.bytes(count: -1) }
    }
}
