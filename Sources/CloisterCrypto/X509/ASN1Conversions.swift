internal import COpenSSL
public import FoundationEssentials
import Glibc

/// Conversions between OpenSSL's ASN.1 values and Swift values, shared by certificates and CRLs.
enum ASN1Conversions {
    /// An ASN.1 UTCTime / GeneralizedTime as a `Date`.
    static func date(_ time: UnsafePointer<ASN1_TIME>?) throws -> Date {
        guard let time else { throw CryptoError(.malformedInput, "ASN.1 time is missing") }
        var components = tm()
        try requireOne(ASN1_TIME_to_tm(time, &components), "ASN1_TIME_to_tm")
        return Date(timeIntervalSince1970: TimeInterval(timegm(&components)))
    }

    /// A `Date` as an ASN.1 time (UTCTime before 2050, GeneralizedTime after, as RFC 5280 requires).
    static func setTime(_ time: UnsafeMutablePointer<ASN1_TIME>?, to date: Date) throws {
        guard ASN1_TIME_set(time, time_t(date.timeIntervalSince1970.rounded(.down))) != nil else {
            throw CryptoError.openSSL("ASN1_TIME_set")
        }
    }

    /// The big-endian magnitude of an ASN.1 INTEGER (serial numbers).
    static func integerBytes(_ integer: UnsafePointer<ASN1_INTEGER>?) throws -> [UInt8] {
        guard let number = ASN1_INTEGER_to_BN(integer, nil) else { throw CryptoError.openSSL("ASN1_INTEGER_to_BN") }
        defer { BN_free(number) }
        var output = [UInt8](repeating: 0, count: Int((BN_num_bits(number) + 7) / 8))
        _ = BN_bn2bin(number, &output)
        return output.isEmpty ? [0] : output
    }

    /// A new ASN.1 INTEGER from big-endian magnitude bytes; the caller owns it.
    static func makeInteger(_ bytes: [UInt8]) throws -> UnsafeMutablePointer<ASN1_INTEGER> {
        guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else { throw CryptoError.openSSL("BN_bin2bn") }
        defer { BN_free(number) }
        return try requireNonNull(BN_to_ASN1_INTEGER(number, nil), "BN_to_ASN1_INTEGER")
    }

    /// The contents of an ASN.1 string (OCTET STRING, BIT STRING, key identifiers).
    static func bytes(_ string: UnsafePointer<ASN1_STRING>?) -> [UInt8] {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
    }

    /// An ASN.1 object from dotted-decimal text ("1.3.6.1.4.1…"); the caller owns it.
    static func object(oid: String) throws -> OpaquePointer {
        guard let object = OBJ_txt2obj(oid, 1) else {
            throw CryptoError(.invalidParameter, "'\(oid)' is not a dotted-decimal object identifier")
        }
        return object
    }

    /// Dotted-decimal text of an ASN.1 object.
    static func dottedText(_ object: OpaquePointer?) -> String {
        var buffer = [CChar](repeating: 0, count: 128)
        let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
        return String(decoding: buffer.prefix(Int(max(length, 0))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The contents of a memory BIO as bytes.
    static func drain(_ bio: OpaquePointer) -> [UInt8] {
        var pointer: UnsafeMutablePointer<CChar>?
        let length = cloister_BIO_get_mem_data(bio, &pointer)
        guard length > 0, let pointer else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// Runs `body` with a read-only memory BIO over `bytes`.
    static func withReadBIO<R>(_ bytes: [UInt8], _ body: (OpaquePointer) throws -> R) throws -> R {
        try bytes.withUnsafeBytes { buffer in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else {
                throw CryptoError.openSSL("BIO_new_mem_buf")
            }
            defer { BIO_free(bio) }
            return try body(bio)
        }
    }
}

extension Date {
    /// RFC 3339 in UTC with second precision, as certificate errors print times.
    var rfc3339: String {
        formatted(.iso8601)
    }
}

/// Lower-case hexadecimal of `bytes`.
func hexEncoded(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var output: [UInt8] = []
    output.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        output.append(digits[Int(byte >> 4)])
        output.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: output, as: UTF8.self)
}
