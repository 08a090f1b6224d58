import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import Foundation
import Testing

/// Real AWS Nitro Enclaves attestation documents (COSE_Sign1, ES384) from ../shared/testvectors/nitro.
@Suite(.enabled(if: TestEnvironment.sharedDirectory != nil, "../shared/testvectors is absent (CI always has it)"))
struct NitroDocumentTests {
    static let documents = [
        "evervault-prod-2022-10-13.cbor",
        "evervault-debug-2022-10-12.cbor",
        "evervault-debug-2023-09-18.cbor.b64",
    ]

    static func wire(_ name: String) throws -> [UInt8] {
        let url = try #require(TestEnvironment.sharedFile("testvectors/nitro/\(name)"))
        let data = try Data(contentsOf: url)
        guard name.hasSuffix(".b64") else { return Array(data) }
        return Array(try #require(Data(base64Encoded: data, options: .ignoreUnknownCharacters)))
    }

    /// The attestation key of a document: the SubjectPublicKeyInfo of its `certificate`.
    static func attestationKey(_ document: COSESign1) throws -> ECPublicKey {
        let payload = try CBORDecoder().decode(document.payload)
        let certificate = try #require(payload["certificate"]?.bytesValue)
        return try ECPublicKey(derRepresentation: try subjectPublicKeyInfo(ofCertificate: certificate))
    }

    @Test(arguments: documents)
    func parsesAndVerifies(_ name: String) throws {
        let document = try COSESign1(encoded: Self.wire(name))
        #expect(document.algorithm == .es384)
        #expect(document.signature.count == 96)
        let payload = try CBORDecoder().decode(document.payload)
        #expect(payload["digest"] == "SHA384")
        #expect(payload["module_id"]?.textValue?.hasPrefix("i-") == true)
        #expect(payload["timestamp"]?.uint64Value != nil)
        #expect(payload["pcrs"]?.mapValue?.count == 16)
        #expect((payload["cabundle"]?.arrayValue?.count ?? 0) >= 1)
        let key = try Self.attestationKey(document)
        #expect(key.curve == .p384)
        try document.verifySignature(with: key)
        #expect(throws: COSEError.self) { try document.verifySignature(with: key, externalAAD: [0]) }
    }

    /// Flips every byte of the signed inputs (protected header, payload) and of the signature, one at a time, in
    /// the wire encoding: each change must make the document fail to parse or fail to verify. About 4,700
    /// P-384 verifications per document (a few seconds each in debug).
    @Test(arguments: documents)
    func everyByteOfTheSignedInputsAndSignatureMatters(_ name: String) throws {
        let wire = try Self.wire(name)
        let document = try COSESign1(encoded: wire)
        let key = try Self.attestationKey(document)
        let regions = try Self.signedRegions(of: document, in: wire)
        var positions = 0
        for region in regions {
            for position in region {
                var tampered = wire
                tampered[position] ^= 0x01
                let accepted = (try? COSESign1(encoded: tampered).verifySignature(with: key)) != nil
                #expect(!accepted, "\(name): flipping byte \(position) left the document valid")
                positions += 1
            }
        }
        #expect(positions == document.protectedHeaderBytes.count + document.payload.count + document.signature.count)
    }

    /// The wire ranges holding the protected header contents, payload contents and signature, checked against
    /// the parsed fields so the flips land where intended.
    static func signedRegions(of document: COSESign1, in wire: [UInt8]) throws -> [Range<Int>] {
        let tagLength = wire.first == 0xd2 ? 1 : 0
        let protectedStart = tagLength + 1 + 1  // array head, then a short byte-string head
        let protectedRange = protectedStart..<protectedStart + document.protectedHeaderBytes.count
        let signatureRange = wire.count - document.signature.count..<wire.count
        let payloadEnd = signatureRange.lowerBound - 2  // the signature's two-byte head 0x58 0x60
        let payloadRange = payloadEnd - document.payload.count..<payloadEnd
        try #require(Array(wire[protectedRange]) == document.protectedHeaderBytes)
        try #require(Array(wire[payloadRange]) == document.payload)
        try #require(Array(wire[signatureRange]) == document.signature)
        return [protectedRange, payloadRange, signatureRange]
    }
}

/// The DER SubjectPublicKeyInfo of an X.509 certificate, found by walking its outer structure (RFC 5280 §4.1):
/// Certificate -> tbsCertificate -> [version], serialNumber, signature, issuer, validity, subject, SPKI.
func subjectPublicKeyInfo(ofCertificate der: [UInt8]) throws -> [UInt8] {
    let certificate = try derElement(der, at: 0)
    let tbsCertificate = try derElement(der, at: certificate.contents.lowerBound)
    var fields: [Range<Int>] = []
    var cursor = tbsCertificate.contents.lowerBound
    while cursor < tbsCertificate.contents.upperBound {
        let field = try derElement(der, at: cursor)
        fields.append(cursor..<field.contents.upperBound)
        cursor = field.contents.upperBound
    }
    let index = der[fields[0].lowerBound] == 0xa0 ? 6 : 5
    try #require(fields.count > index && der[fields[index].lowerBound] == 0x30)
    return Array(der[fields[index]])
}

/// The contents range of the DER element starting at `start` (single-byte tags, definite lengths).
private func derElement(_ der: [UInt8], at start: Int) throws -> (tag: UInt8, contents: Range<Int>) {
    try #require(start + 2 <= der.count)
    let tag = der[start]
    var length = Int(der[start + 1])
    var contentsStart = start + 2
    if length & 0x80 != 0 {
        let lengthBytes = length & 0x7f
        try #require(lengthBytes >= 1 && lengthBytes <= 4 && contentsStart + lengthBytes <= der.count)
        length = der[contentsStart..<contentsStart + lengthBytes].reduce(0) { $0 << 8 | Int($1) }
        contentsStart += lengthBytes
    }
    try #require(contentsStart + length <= der.count)
    return (tag, contentsStart..<contentsStart + length)
}
