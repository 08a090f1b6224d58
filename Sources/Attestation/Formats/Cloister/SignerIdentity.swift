public import CloisterCrypto

/// Who signed an enclave's manifest (PCR8 / `mrsigner`): SHA-384 of the signer's SubjectPublicKeyInfo DER.
public struct SignerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The 48 bytes.
    public let bytes: [UInt8]

    /// The identity of `publicKey`.
    public init(publicKey: ECPublicKey) {
        self.bytes = DigestAlgorithm.sha384.hash(publicKey.derRepresentation)
    }

    /// An identity from its 48 bytes.
    public init(bytes: [UInt8]) throws(AttestationError) {
        guard bytes.count == 48 else {
            throw AttestationError(.malformedEvidence, "a signer identity is 48 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    /// The published development signer (`Keys/dev-signer.pub.pem`): anyone can sign with it.
    public static let development = SignerIdentity(
        knownHex: "248390426e4daef887645df0d028cda92d9771a8645d36cb1e4284752f19c0037f1134f6e48ece18409e69fdb63067aa")

    /// Whether this is the published development signer, which no production policy should trust.
    public var isDevelopment: Bool { self == Self.development }

    /// Lower-case hexadecimal.
    public var hex: String { hexEncoded(bytes) }
    public var description: String { hex }

    private init(knownHex: String) {
        self.bytes = hexDecoded(knownHex)!
    }
}
