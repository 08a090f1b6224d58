internal import COpenSSL
internal import FoundationEssentials
import Glibc

/// Conversions between OpenSSL's ASN.1 values and Swift values, shared by certificates, CRLs and the verifier.
enum ASN1Conversions {
    /// The DER encoding of an OpenSSL object through its `i2d_*` function; `free` releases the object when that
    /// fails (the caller adopted it), `name` names the function in the error.
    static func der(
        _ pointer: OpaquePointer, _ name: String, free: (OpaquePointer) -> Void,
        encode: (OpaquePointer, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>) -> Int32
    ) throws -> [UInt8] {
        var der: UnsafeMutablePointer<UInt8>?
        let length = encode(pointer, &der)
        guard length > 0, let der else {
            free(pointer)
            throw CryptoError.openSSL(name)
        }
        defer { cloister_OPENSSL_free(der) }
        return Array(UnsafeBufferPointer(start: der, count: Int(length)))
    }

    /// The range ASN.1 times can express (years 0000 through 9999), in seconds since 1970.
    static let representableSeconds: ClosedRange<Int64> = -62_167_219_200...253_402_300_799

    /// An ASN.1 UTCTime / GeneralizedTime as a `Date` (whole seconds).
    static func date(_ time: UnsafePointer<ASN1_TIME>?) throws -> Date {
        guard let time else { throw CryptoError(.malformedInput, "ASN.1 time is missing") }
        var components = tm()
        guard ASN1_TIME_to_tm(time, &components) == 1 else {
            throw CryptoError(.malformedInput, "malformed ASN.1 time: \(drainOpenSSLErrors())")
        }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&components)))
    }

    /// Whole seconds since 1970 of `date` (rounded down), refusing dates no ASN.1 time can express.
    static func epochSeconds(_ date: Date) throws -> time_t {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds.isFinite, let whole = Int64(exactly: seconds), representableSeconds.contains(whole) else {
            throw CryptoError(.invalidParameter, "time \(date.timeIntervalSince1970) is outside years 0000–9999")
        }
        return time_t(whole)
    }

    /// Sets an ASN.1 time to `date` (UTCTime before 2050, GeneralizedTime after, as RFC 5280 requires).
    static func setTime(_ time: UnsafeMutablePointer<ASN1_TIME>?, to date: Date) throws {
        guard ASN1_TIME_set(time, try epochSeconds(date)) != nil else { throw CryptoError.openSSL("ASN1_TIME_set") }
    }

    /// The big-endian magnitude of an ASN.1 INTEGER (serial numbers, CRL numbers).
    static func integerBytes(_ integer: UnsafePointer<ASN1_INTEGER>?) throws -> [UInt8] {
        guard let number = ASN1_INTEGER_to_BN(integer, nil) else {
            throw CryptoError(.malformedInput, "malformed ASN.1 INTEGER: \(drainOpenSSLErrors())")
        }
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
            ERR_clear_error()
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

    /// OpenSSL's long name for a NID ("ecdsa-with-SHA384", "id-ecPublicKey"), or "unknown".
    static func longName(_ nid: Int32) -> String {
        guard nid != NID_undef, let name = OBJ_nid2ln(nid) else { return "unknown" }
        return String(cString: name)
    }

    /// Whether `bytes` is exactly one well-formed DER/BER value, with nothing after it.
    static func isSingleValue(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            guard let value = d2i_ASN1_TYPE(nil, &cursor, buffer.count) else {
                ERR_clear_error()
                return false
            }
            ASN1_TYPE_free(value)
            return cursor == buffer.baseAddress.map { $0 + buffer.count }
        }
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
    /// RFC 3339 in UTC with second precision ("2023-09-18T17:37:12Z"), as certificate errors print times; a time
    /// outside years 0000–9999 prints as its raw seconds since 1970.
    var rfc3339: String {
        let rounded = timeIntervalSince1970.rounded(.down)
        guard rounded.isFinite, let seconds = Int64(exactly: rounded),
            ASN1Conversions.representableSeconds.contains(seconds)
        else {
            return "\(timeIntervalSince1970) s since 1970"
        }
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilDate(daysSince1970: days)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(year)
        return String(repeating: "0", count: 4 - yearText.count) + yearText + "-\(two(month))-\(two(day))"
            + "T\(two(secondOfDay / 3_600)):\(two(secondOfDay % 3_600 / 60)):\(two(secondOfDay % 60))Z"
    }
}

/// Proleptic Gregorian year, month and day of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
    let shifted = days + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
}
