import CloisterCBOR
import CloisterCrypto

// What the two formats that travel as COSE_Sign1 attestation documents (Cloister quotes and AWS Nitro documents)
// share: their framing, their decoding, and how their fields map onto the claims' core.

extension SignedAttestationDocument {
    /// Reads `bytes` as a COSE_Sign1 attestation document: not this framing unless the first CBOR item is a tag or
    /// an array (COSE_Sign1, tagged 18 or not), malformed when it does not decode as one.
    static func read(_ bytes: [UInt8], cache: EvidenceCache?) -> EvidenceReading<SignedAttestationDocument> {
        guard let first = bytes.first, first >> 5 == 4 || first >> 5 == 6 else { return .notThisFormat }
        do {
            let signed = try SignedAttestationDocument(encoded: bytes, cache: cache)
            return .read(signed, summary: "COSE_Sign1 \(signed.message.algorithm.name) attestation document")
        } catch {
            return .malformed(error)
        }
    }
}

extension VerifiedClaims {
    /// The core of a document's claims: PCR0 is the measurement, PCR8 the signer, and the requester's values are
    /// the document's own.
    init(
        _ signed: SignedAttestationDocument, format: EvidenceFormat, debug: Bool, simulated: Bool,
        productID: UInt16? = nil, svn: UInt16? = nil, tcbStatus: TCBStatus? = nil,
        details: any FormatClaims
    ) {
        let document = signed.document
        self.init(
            format: format, timestamp: document.timestamp,
            pcrs: Dictionary(uniqueKeysWithValues: document.pcrs.map { (String($0.key), hexEncoded($0.value)) }),
            measurement: hexEncoded(document.pcrs[0] ?? []), signer: document.pcrs[8].map(hexEncoded),
            nonce: document.nonce.map(hexEncoded), userData: document.userData.map(hexEncoded),
            publicKey: document.publicKey.map(hexEncoded), debug: debug, simulated: simulated, productID: productID,
            svn: svn, tcbStatus: tcbStatus, details: details)
    }
}
