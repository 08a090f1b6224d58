/// An Intel DCAP quote decoded field by field, nothing verified yet (Intel SGX ECDSA Quote Library reference, quote
/// versions 3, 4 and 5; the layout Intel's QVL and dcap-qvl read).
///
/// After the header and the report body comes the signature data, its length first (u32): the quote's ECDSA
/// signature (r ‖ s) by the attestation key, the attestation key (x ‖ y, P-256), then for version 3 the QE report, its
/// signature, the QE authentication data (u16 length) and the certification data (u16 type, u32 length), and for
/// versions 4 and 5 the same QE report, signature, authentication data and certification data nested inside
/// certification data of type 6 ("QE report certification data"). The innermost certification data must be type 5,
/// the PCK certificate chain in PEM. Every length is checked against what holds it, and every structure must fill
/// what holds it exactly (as Intel's QVL reads); after the signature data only zeros may follow, as real TDX quotes
/// come padded (Intel's QVL refuses any byte there; dcap-qvl ignores whatever is there).
public struct IntelDCAPQuote: Sendable, Hashable {
    /// The report body the quote carries.
    public enum Body: Sendable, Hashable {
        case sgx(SGXReportBody)
        case td(TDReportBody)
    }

    /// Certification data of type 5: the PCK leaf certificate, its issuing CA and the root, in PEM.
    public static let pckCertificateChainType: UInt16 = 5
    /// Certification data of type 6: the QE report, its signature, its authentication data and the type 5 data.
    public static let qeReportCertificationDataType: UInt16 = 6

    public let header: IntelDCAPQuoteHeader
    /// The quoting enclave's and the PCE's security versions, as the header states them.
    public let qeSVN: UInt16
    public let pceSVN: UInt16
    /// The header's 20 bytes of user data (for Intel's quoting enclaves, the first 16 are the QE's platform id).
    public let userData: [UInt8]
    public let body: Body
    /// The bytes the quote's signature covers: the header, version 5's body descriptor and the body.
    public let signedBytes: [UInt8]
    /// The quote's ECDSA P-256 signature, r ‖ s.
    public let signature: [UInt8]
    /// The attestation key, x ‖ y of a P-256 point.
    public let attestationKey: [UInt8]
    /// The quoting enclave's report (what the PCK key signs), as bytes and as read.
    public let qeReportBytes: [UInt8]
    public let qeReport: SGXReportBody
    /// The PCK key's ECDSA P-256 signature of the QE report, r ‖ s.
    public let qeReportSignature: [UInt8]
    /// The QE authentication data, which the QE report's data binds with the attestation key.
    public let qeAuthenticationData: [UInt8]
    /// The PCK certificate chain, PEM, leaf first, without the NULs that end it as a C string in the quote.
    public let pckCertificateChain: [UInt8]

    /// Decodes `bytes`, refusing anything that is not a whole quote with an error naming the field at fault.
    public init(_ bytes: [UInt8]) throws(AttestationError) {
        switch IntelDCAPQuoteHeader.read(bytes) {
        case .notThisFormat:
            throw AttestationError(.malformedEvidence, "the evidence is not an Intel DCAP quote (versions 3 to 5)")
        case .malformed(let error):
            throw error
        case .read(let header, _):
            try self.init(bytes, header: header)
        }
    }

    /// Decodes the rest of a quote whose header `IntelDCAPQuoteHeader.read` accepted.
    init(_ bytes: [UInt8], header: IntelDCAPQuoteHeader) throws(AttestationError) {
        var reader = QuoteReader(bytes, quote: header.description)
        self.header = header
        _ = try reader.take(8, "header")
        qeSVN = try reader.u16("QE SVN")
        pceSVN = try reader.u16("PCE SVN")
        _ = try reader.take(16, "QE vendor id")
        userData = Array(try reader.take(20, "user data"))
        if header.version == 5 { _ = try reader.take(6, "body descriptor") }
        let bodyBytes = try reader.take(header.bodyByteCount, "report body")
        body = header.tee == .sgx ? .sgx(SGXReportBody(bodyBytes)) : .td(TDReportBody(bodyBytes))
        signedBytes = Array(bytes[..<reader.offset])
        let length = Int(try reader.u32("signature data length"))
        var signatureData = try reader.nested(length, "signature data")
        signature = Array(try signatureData.take(64, "quote signature"))
        attestationKey = Array(try signatureData.take(64, "attestation key"))
        if header.version == 3 {
            (qeReportBytes, qeReportSignature, qeAuthenticationData, pckCertificateChain) =
                try Self.qeReportCertificationData(&signatureData)
            try signatureData.finish("signature data")
        } else {
            let type = try signatureData.u16("certification data type")
            guard type == Self.qeReportCertificationDataType else {
                throw signatureData.refusal(
                    "certification data of type \(type) where a version \(header.version) quote has type "
                        + "\(Self.qeReportCertificationDataType) (the QE report certification data)")
            }
            let size = Int(try signatureData.u32("certification data length"))
            var nested = try signatureData.nested(size, "QE report certification data")
            (qeReportBytes, qeReportSignature, qeAuthenticationData, pckCertificateChain) =
                try Self.qeReportCertificationData(&nested)
            try nested.finish("QE report certification data")
            try signatureData.finish("signature data")
        }
        try reader.padding(after: "the signature data")
        qeReport = SGXReportBody(qeReportBytes[...])
    }

    /// The QE report, its signature, the QE authentication data and the PCK chain (certification data of type 5).
    private static func qeReportCertificationData(
        _ reader: inout QuoteReader
    ) throws(AttestationError) -> ([UInt8], [UInt8], [UInt8], [UInt8]) {
        let report = Array(try reader.take(SGXReportBody.byteCount, "QE report"))
        let signature = Array(try reader.take(64, "QE report signature"))
        let authenticationData = Array(
            try reader.take(Int(try reader.u16("QE authentication data length")), "QE authentication data"))
        let type = try reader.u16("certification data type")
        guard type == pckCertificateChainType else {
            throw reader.refusal(
                "certification data of type \(type) where the PCK certificate chain (type \(pckCertificateChainType)) "
                    + "is expected")
        }
        var chain = Array(try reader.take(Int(try reader.u32("PCK certificate chain length")), "PCK certificate chain"))
        // Quoting enclaves write the chain as a C string: its terminating NULs are not PEM.
        while chain.last == 0 { chain.removeLast() }
        return (report, signature, authenticationData, chain)
    }
}

/// Reads a quote's fields in order, each refusal naming the field, where it starts and how much was left.
struct QuoteReader {
    private let bytes: [UInt8]
    private let end: Int
    private let quote: String
    private(set) var offset: Int

    init(_ bytes: [UInt8], quote: String) {
        self.bytes = bytes
        self.quote = quote
        offset = 0
        end = bytes.count
    }

    private init(_ bytes: [UInt8], quote: String, offset: Int, end: Int) {
        self.bytes = bytes
        self.quote = quote
        self.offset = offset
        self.end = end
    }

    mutating func take(_ count: Int, _ field: String) throws(AttestationError) -> ArraySlice<UInt8> {
        guard count <= end - offset else {
            throw refusal("its \(field) needs \(count) bytes at byte \(offset) where \(end - offset) remain")
        }
        defer { offset += count }
        return bytes[offset..<(offset + count)]
    }

    mutating func u16(_ field: String) throws(AttestationError) -> UInt16 {
        let slice = try take(2, field)
        return UInt16(slice[slice.startIndex]) | UInt16(slice[slice.startIndex + 1]) << 8
    }

    mutating func u32(_ field: String) throws(AttestationError) -> UInt32 {
        let slice = try take(4, field)
        return slice.reversed().reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Refuses bytes left over in `field`, the structure this reader holds, once its last field is read.
    func finish(_ field: String) throws(AttestationError) {
        guard offset == end else {
            throw refusal("its \(field) ends at byte \(offset), \(end - offset) bytes before its stated length")
        }
    }

    /// Steps over the padding left: zeros only, else the refusal names the first byte that is not.
    mutating func padding(after field: String) throws(AttestationError) {
        if let stray = bytes[offset..<end].firstIndex(where: { $0 != 0 }) {
            throw refusal(
                "byte \(stray), after \(field), is \(bytes[stray]) where only padding (zeros) may follow")
        }
        offset = end
    }

    /// A reader of the next `count` bytes alone (a length-prefixed structure), which this reader steps over.
    mutating func nested(_ count: Int, _ field: String) throws(AttestationError) -> QuoteReader {
        let start = offset
        _ = try take(count, field)
        return QuoteReader(bytes, quote: quote, offset: start, end: start + count)
    }

    func refusal(_ problem: String) -> AttestationError {
        AttestationError(.malformedEvidence, "the evidence is \(quote), but \(problem)")
    }
}

/// An SGX enclave's report body (384 bytes): the enclave's identity, attributes and report data.
public struct SGXReportBody: Sendable, Hashable {
    public static let byteCount = 384

    public let cpuSVN: [UInt8]
    public let miscSelect: UInt32
    /// 16 bytes: flags (bit 1 DEBUG, bit 2 MODE64BIT, ...) then XFRM.
    public let attributes: [UInt8]
    public let mrEnclave: [UInt8]
    public let mrSigner: [UInt8]
    public let isvProdID: UInt16
    public let isvSVN: UInt16
    public let reportData: [UInt8]

    /// Reads the 384 bytes of `bytes`.
    init(_ bytes: ArraySlice<UInt8>) {
        let body = Array(bytes)
        cpuSVN = Array(body[0..<16])
        miscSelect = body.littleEndian(UInt32.self, at: 16) ?? 0
        attributes = Array(body[48..<64])
        mrEnclave = Array(body[64..<96])
        mrSigner = Array(body[128..<160])
        isvProdID = body.littleEndian(UInt16.self, at: 256) ?? 0
        isvSVN = body.littleEndian(UInt16.self, at: 258) ?? 0
        reportData = Array(body[320..<384])
    }

    /// Whether the enclave runs in debug mode (ATTRIBUTES.DEBUG).
    public var isDebug: Bool { attributes[0] & 0x02 != 0 }
}

/// A trust domain's report body: TD 1.0 (584 bytes) or TD 1.5 (648, adding `teeTCBSVN2` and `mrServiceTD`).
public struct TDReportBody: Sendable, Hashable {
    public let teeTCBSVN: [UInt8]
    public let mrSeam: [UInt8]
    public let mrSignerSeam: [UInt8]
    public let seamAttributes: [UInt8]
    public let tdAttributes: [UInt8]
    public let xfam: [UInt8]
    public let mrTD: [UInt8]
    public let mrConfigID: [UInt8]
    public let mrOwner: [UInt8]
    public let mrOwnerConfig: [UInt8]
    /// RTMR0 to RTMR3.
    public let rtmrs: [[UInt8]]
    public let reportData: [UInt8]
    /// TD 1.5 only.
    public let teeTCBSVN2: [UInt8]?
    public let mrServiceTD: [UInt8]?

    /// Reads the 584 or 648 bytes of `bytes`.
    init(_ bytes: ArraySlice<UInt8>) {
        let body = Array(bytes)
        func field(_ start: Int, _ count: Int) -> [UInt8] { Array(body[start..<(start + count)]) }
        teeTCBSVN = field(0, 16)
        mrSeam = field(16, 48)
        mrSignerSeam = field(64, 48)
        seamAttributes = field(112, 8)
        tdAttributes = field(120, 8)
        xfam = field(128, 8)
        mrTD = field(136, 48)
        mrConfigID = field(184, 48)
        mrOwner = field(232, 48)
        mrOwnerConfig = field(280, 48)
        rtmrs = (0..<4).map { field(328 + 48 * $0, 48) }
        reportData = field(520, 64)
        teeTCBSVN2 = body.count >= 648 ? field(584, 16) : nil
        mrServiceTD = body.count >= 648 ? field(600, 48) : nil
    }

    /// Whether the trust domain runs in debug mode (TD attributes bit 0, TUD.DEBUG).
    public var isDebug: Bool { tdAttributes[0] & 0x01 != 0 }
}
