import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import Testing

/// The COSE error code `body` throws, or nil when it succeeds or throws something else.
private func coseErrorCode(_ body: () throws -> Void) -> COSEError.Code? {
    do {
        try body()
        return nil
    } catch let error as COSEError {
        return error.code
    } catch {
        return nil
    }
}

/// A COSE_Sign1 array built field by field, for malformed-structure tests.
private func message(
    protected: CBORValue = .bytes([0xa1, 0x01, 0x26]),
    unprotected: CBORValue = [:],
    payload: CBORValue = .bytes([1, 2, 3]),
    signature: CBORValue = .bytes([UInt8](repeating: 7, count: 64)),
    extra: [CBORValue] = []
) throws -> [UInt8] {
    try CBORValue.tagged(18, .array([protected, unprotected, payload, signature] + extra)).encoded()
}

@Suite struct COSESign1Tests {
    @Test(arguments: ECCurve.allCases)
    func signsAndVerifies(_ curve: ECCurve) throws {
        let key = try ECPrivateKey(generating: curve)
        let payload = Array("attested".utf8)
        let signed = try COSESign1(signing: payload, with: key, keyID: [0xab, 0xcd])
        let wire = try signed.encoded()
        #expect(Array(wire.prefix(2)) == [0xd2, 0x84])
        #expect(hexString(signed.protectedHeaderBytes) == (curve == .p256 ? "a10126" : "a1013822"))
        #expect(signed.signature.count == 2 * curve.coordinateByteCount)

        let parsed = try COSESign1(encoded: wire)
        #expect(parsed.algorithm == COSEAlgorithm(curve: curve))
        #expect(parsed.payload == payload)
        #expect(parsed.keyID == [0xab, 0xcd])
        try parsed.verifySignature(with: key.publicKey)
        // Untagged messages are accepted too.
        try COSESign1(encoded: Array(wire.dropFirst())).verifySignature(with: key.publicKey)
    }

    @Test(arguments: ECCurve.allCases)
    func bindsExternalAAD(_ curve: ECCurve) throws {
        let key = try ECPrivateKey(generating: curve)
        let aad = Array("nonce-42".utf8)
        let parsed = try COSESign1(encoded: COSESign1(signing: [9], with: key, externalAAD: aad).encoded())
        try parsed.verifySignature(with: key.publicKey, externalAAD: aad)
        #expect(coseErrorCode { try parsed.verifySignature(with: key.publicKey) } == .invalidSignature)
        #expect(
            coseErrorCode { try parsed.verifySignature(with: key.publicKey, externalAAD: [1]) } == .invalidSignature)
    }

    @Test func rejectsTheWrongKey() throws {
        let signed = try COSESign1(signing: [1], with: ECPrivateKey(generating: .p256))
        let other = try ECPrivateKey(generating: .p256).publicKey
        #expect(coseErrorCode { try signed.verifySignature(with: other) } == .invalidSignature)
        let p384 = try ECPrivateKey(generating: .p384).publicKey
        #expect(coseErrorCode { try signed.verifySignature(with: p384) } == .algorithmMismatch)
    }

    @Test func rejectsAnAlgorithmThatDoesNotMatchTheKey() throws {
        // An ES384 header over a P-256 signature: the verifier must trust neither.
        let key = try ECPrivateKey(generating: .p256)
        let signed = try COSESign1(signing: [1], with: key)
        let relabeled = try message(
            protected: .bytes([0xa1, 0x01, 0x38, 0x22]),
            signature: .bytes(signed.signature + signed.signature.prefix(32)))
        let parsed = try COSESign1(encoded: relabeled)
        #expect(parsed.algorithm == .es384)
        #expect(coseErrorCode { try parsed.verifySignature(with: key.publicKey) } == .algorithmMismatch)
    }

    @Test func rejectsTampering() throws {
        let key = try ECPrivateKey(generating: .p384)
        let signed = try COSESign1(signing: Array("payload".utf8), with: key)
        let unprotected = CBORValue.map(signed.unprotectedHeader)
        // The same header map, spelled with a non-shortest argument: different bytes, so a different signature input.
        #expect(signed.protectedHeaderBytes == [0xa1, 0x01, 0x38, 0x22])
        let respelled = try message(
            protected: .bytes([0xa1, 0x01, 0x39, 0x00, 0x22]),
            unprotected: unprotected,
            payload: .bytes(signed.payload),
            signature: .bytes(signed.signature)
        )
        let parsedRespelled = try COSESign1(encoded: respelled)
        #expect(parsedRespelled.algorithm == .es384)
        #expect(coseErrorCode { try parsedRespelled.verifySignature(with: key.publicKey) } == .invalidSignature)

        let tamperedPayload = try message(
            protected: .bytes(signed.protectedHeaderBytes), unprotected: unprotected,
            payload: .bytes(Array("paylaod".utf8)), signature: .bytes(signed.signature)
        )
        #expect(
            coseErrorCode { try COSESign1(encoded: tamperedPayload).verifySignature(with: key.publicKey) }
                == .invalidSignature)

        var flipped = signed.signature
        flipped[10] ^= 0x40
        let tamperedSignature = try message(
            protected: .bytes(signed.protectedHeaderBytes), unprotected: unprotected,
            payload: .bytes(signed.payload), signature: .bytes(flipped)
        )
        #expect(
            coseErrorCode { try COSESign1(encoded: tamperedSignature).verifySignature(with: key.publicKey) }
                == .invalidSignature)

        // The unprotected header is not signed: changing it leaves the signature valid.
        let newUnprotected = try message(
            protected: .bytes(signed.protectedHeaderBytes), unprotected: [4: .bytes([1])],
            payload: .bytes(signed.payload), signature: .bytes(signed.signature)
        )
        try COSESign1(encoded: newUnprotected).verifySignature(with: key.publicKey)
    }

    @Test func rejectsMissingUnknownOrUnprotectedAlgorithms() throws {
        let cases: [(String, [UInt8])] = [
            ("EdDSA", try message(protected: .bytes(CBORValue.map([CBORMapEntry(1, -8)]).encoded()))),
            ("ES512", try message(protected: .bytes(CBORValue.map([CBORMapEntry(1, -36)]).encoded()))),
            ("text alg", try message(protected: .bytes(CBORValue.map([CBORMapEntry(1, "ES256")]).encoded()))),
            ("no alg", try message(protected: .bytes(CBORValue.map([CBORMapEntry(4, .bytes([1]))]).encoded()))),
            ("empty protected", try message(protected: .bytes([]))),
            ("unprotected alg", try message(protected: .bytes([]), unprotected: [1: -7])),
            ("unprotected alg, protected map", try message(protected: .bytes([0xa0]), unprotected: [1: -7])),
        ]
        for (label, wire) in cases {
            #expect(coseErrorCode { _ = try COSESign1(encoded: wire) } == .unsupportedAlgorithm, "\(label)")
        }
    }

    @Test func rejectsMalformedStructures() throws {
        let cases: [(String, [UInt8])] = [
            ("three items", try CBORValue.tagged(18, [.bytes([0xa1, 0x01, 0x26]), [:], .bytes([])]).encoded()),
            ("five items", try message(extra: [0])),
            ("not an array", try CBORValue.tagged(18, [1: 2]).encoded()),
            (
                "wrong tag",
                try CBORValue.tagged(98, [.bytes([0xa1, 0x01, 0x26]), [:], .bytes([]), .bytes([])]).encoded()
            ),
            ("protected as map", try message(protected: [1: -7])),
            ("protected not a map", try message(protected: .bytes([0x80]))),
            ("unprotected as bytes", try message(unprotected: .bytes([0xa0]))),
            ("detached payload", try message(payload: .null)),
            ("payload as text", try message(payload: "hello")),
            ("signature as array", try message(signature: [1])),
            ("short signature", try message(signature: .bytes([UInt8](repeating: 7, count: 63)))),
            ("long signature", try message(signature: .bytes([UInt8](repeating: 7, count: 96)))),
            ("label in both buckets", try message(unprotected: [1: -7])),
            (
                "critical headers",
                try message(protected: .bytes(CBORValue.map([CBORMapEntry(1, -7), CBORMapEntry(2, [4])]).encoded()))
            ),
        ]
        for (label, wire) in cases {
            #expect(coseErrorCode { _ = try COSESign1(encoded: wire) } == .malformed, "\(label)")
        }
    }

    @Test func cborErrorsSurfaceAsCBORErrors() throws {
        let wire = try COSESign1(signing: [1, 2, 3], with: ECPrivateKey(generating: .p256)).encoded()
        #expect(throws: CBORError.self) { try COSESign1(encoded: Array(wire.dropLast())) }
        #expect(throws: CBORError.self) { try COSESign1(encoded: wire + [0]) }
        // Duplicate labels in the protected header are rejected, not resolved.
        let duplicated = try message(protected: .bytes(bytes(fromHex: "a201260126")))
        #expect(throws: CBORError.self) { try COSESign1(encoded: duplicated) }
    }

    @Test func refusesDuplicateUnprotectedLabelsWhenSigning() throws {
        let key = try ECPrivateKey(generating: .p256)
        #expect(throws: CBORError.self) {
            try COSESign1(signing: [1], with: key, unprotectedHeader: [CBORMapEntry(4, .bytes([1]))], keyID: [2])
        }
        #expect(throws: COSEError.self) {
            try COSESign1(signing: [1], with: key, unprotectedHeader: [CBORMapEntry(1, -7)])
        }
    }
}
