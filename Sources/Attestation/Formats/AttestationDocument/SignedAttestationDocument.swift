public import CloisterCBOR
public import CloisterCrypto
import CloisterErrors
public import FoundationEssentials

/// An attestation document as it travels: a COSE_Sign1 whose payload is an `AttestationDocument`, signed by the key
/// of the document's own leaf certificate. Both Cloister quotes and AWS Nitro documents have this form.
///
/// Decoding checks only the form. `verifySignature()` checks the COSE signature over the bytes as received, and
/// `verifyCertificates(...)` the chain from the leaf through the CA bundle to a pinned anchor at an explicit time.
public struct SignedAttestationDocument: Sendable {
    /// The COSE_Sign1 message, its payload bytes exactly as received.
    public let message: COSESign1
    /// The decoded payload.
    public let document: AttestationDocument
    /// The leaf certificate that signed the document.
    public let certificate: X509Certificate
    /// The CA bundle, root first, as the document lists it.
    public let caBundle: [X509Certificate]

    /// Decodes a document; throws `AttestationError` (`malformed-evidence`, `bad-certificate`) naming what is wrong.
    public init(encoded: [UInt8], cache: EvidenceCache? = nil) throws(AttestationError) {
        let message: COSESign1
        do {
            message = try COSESign1(encoded: encoded)
        } catch let error as any CodedError {
            throw AttestationError(.malformedEvidence, "evidence is not a COSE_Sign1 message: \(error.reason)")
        } catch {
            throw AttestationError(.malformedEvidence, "evidence is not a COSE_Sign1 message: \(error)")
        }
        try self.init(message: message, cache: cache)
    }

    /// Wraps a parsed message, decoding its payload and certificates (through `cache` when given).
    public init(message: COSESign1, cache: EvidenceCache? = nil) throws(AttestationError) {
        let document = try AttestationDocument(payload: message.payload)
        self.message = message
        self.document = document
        self.certificate = try Self.certificate(document.certificate, "certificate", cache)
        var bundle: [X509Certificate] = []
        for (index, der) in document.caBundle.enumerated() {
            bundle.append(try Self.certificate(der, "cabundle[\(index)]", cache))
        }
        self.caBundle = bundle
    }

    /// Checks the COSE signature with the leaf certificate's key, over the protected header and payload as received.
    public func verifySignature() throws(AttestationError) {
        let key: ECPublicKey
        do {
            key = try certificate.publicKey()
        } catch {
            throw AttestationError(.badCertificate, "the signing certificate's key is unusable: \(error)")
        }
        do {
            try message.verifySignature(with: key)
        } catch let error as any CodedError {
            throw AttestationError(.badSignature, "document signature does not verify: \(error.reason)")
        } catch {
            throw AttestationError(.badSignature, "document signature does not verify: \(error)")
        }
    }

    /// Verifies the chain from the leaf through the CA bundle to one of `verifier`'s anchors at `time`, with
    /// `crls`; returns the path from the leaf to the anchor. Throws `CertificateChainError` naming the failed check.
    @discardableResult
    public func verifyCertificates(
        with verifier: CertificateChainVerifier, crls: [CertificateRevocationList] = [], at time: Date
    ) throws -> [X509Certificate] {
        try verifier.verify(leaf: certificate, intermediates: caBundle, crls: crls, at: time)
    }

    /// When the document says it was made.
    public var timestamp: Date {
        Date(millisecondsSince1970: document.timestamp)
    }

    private static func certificate(
        _ der: [UInt8], _ field: @autoclosure () -> String, _ cache: EvidenceCache?
    ) throws(AttestationError) -> X509Certificate {
        do {
            return try cache?.certificate(der) ?? X509Certificate(derRepresentation: der)
        } catch {
            throw AttestationError(.badCertificate, "\(field()) is not an X.509 certificate: \(error)")
        }
    }
}
