/// The layout of an Intel DCAP quote (Intel SGX ECDSA Quote Library reference, quote versions 3, 4 and 5): the
/// 48-byte header, the TEE's report body and the length of the signature data after it: enough to tell a quote and
/// its kind by its bytes.
///
/// Header: version (u16 LE), attestation key type (u16, 2 = ECDSA-256-with-P-256), TEE type (u32, 0x00 SGX, 0x81
/// TDX), two reserved or SVN u16s, the QE vendor id (16 bytes, Intel's `939a7233f79c4ca9940a0db3957f0607`) at bytes
/// 12..<28, and 20 bytes of user data. Versions 3 and 4 put the report body right after it (SGX enclave report 384
/// bytes, TD report 584); version 5 first says the body's type (u16: 1 SGX, 2 TD 1.0, 3 TD 1.5) and size (u32).
/// `IntelDCAPQuote` decodes the rest.
public struct IntelDCAPQuoteHeader: Sendable, Hashable, CustomStringConvertible {
    /// The TEE a quote attests.
    public enum TEE: UInt32, Sendable, CustomStringConvertible {
        case sgx = 0x00
        case tdx = 0x81

        public var description: String { self == .sgx ? "SGX" : "TDX" }
    }

    /// The header's size.
    public static let byteCount = 48
    /// The quoting enclave vendor id of Intel's quoting enclaves.
    public static let intelQEVendorID: [UInt8] = [
        0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
    ]
    /// ECDSA-256-with-P-256, the attestation key type of Intel's quoting enclaves.
    public static let ecdsaP256KeyType: UInt16 = 2

    public let version: UInt16
    public let tee: TEE
    /// The report body's size: 384 (SGX), 584 (TD 1.0) or 648 (TD 1.5).
    public let bodyByteCount: Int
    /// The signature data's size, as the quote states it.
    public let signatureDataByteCount: Int

    /// Reads the header of `bytes`: not a quote unless version, key type, TEE type and vendor id are a DCAP quote's;
    /// malformed when they are, but the body or the signature data the header announces does not fit in `bytes`
    /// (bytes after the signature data, as quote buffers are often padded, are allowed).
    static func read(_ bytes: [UInt8]) -> EvidenceReading<IntelDCAPQuoteHeader> {
        guard bytes.count >= byteCount, let version = bytes.littleEndian(UInt16.self, at: 0),
            (3...5).contains(version), bytes.littleEndian(UInt16.self, at: 2) == ecdsaP256KeyType,
            let tee = bytes.littleEndian(UInt32.self, at: 4).flatMap(TEE.init(rawValue:)),
            version != 3 || tee == .sgx, bytes[12..<28].elementsEqual(intelQEVendorID)
        else { return .notThisFormat }
        let header = "an Intel \(tee) DCAP quote header (version \(version))"
        var bodyOffset = byteCount
        var bodyByteCount = tee == .sgx ? 384 : 584
        if version == 5 {
            guard let type = bytes.littleEndian(UInt16.self, at: byteCount),
                let size = bytes.littleEndian(UInt32.self, at: byteCount + 2)
            else { return malformed("\(header) but is cut off at \(bytes.count) bytes, inside its body descriptor") }
            let sizes: [UInt16: Int] = tee == .sgx ? [1: 384] : [2: 584, 3: 648]
            guard let expected = sizes[type], Int(size) == expected else {
                return malformed(
                    "\(header) but states a body of type \(type) and \(size) bytes, not "
                        + sizes.sorted { $0.key < $1.key }.map { "type \($0.key) of \($0.value) bytes" }
                        .joined(separator: " or "))
            }
            bodyOffset += 6
            bodyByteCount = expected
        }
        let signatureOffset = bodyOffset + bodyByteCount
        guard let signatureLength = bytes.littleEndian(UInt32.self, at: signatureOffset) else {
            return malformed(
                "\(header) but is \(bytes.count) bytes: its header and report body with the signature data's "
                    + "length need \(signatureOffset + 4)")
        }
        let following = bytes.count - signatureOffset - 4
        guard Int(signatureLength) <= following else {
            return malformed(
                "\(header) but states \(signatureLength) bytes of signature data where \(following) follow its "
                    + "report body")
        }
        let quote = IntelDCAPQuoteHeader(
            version: version, tee: tee, bodyByteCount: bodyByteCount, signatureDataByteCount: Int(signatureLength))
        return .read(quote, summary: quote.description)
    }

    /// What the quote is, as refusals name it.
    public var description: String {
        "an Intel \(tee) DCAP quote, version \(version) (report body \(bodyByteCount) bytes, signature data "
            + "\(signatureDataByteCount) bytes)"
    }

    private static func malformed(_ problem: String) -> EvidenceReading<IntelDCAPQuoteHeader> {
        .malformed(AttestationError(.malformedEvidence, "the evidence starts with \(problem)"))
    }
}
