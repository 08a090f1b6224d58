internal import COpenSSL

/// An X.501 distinguished name: an ordered list of attributes, most general first (as encoded: C, O, …, CN).
public struct DistinguishedName: Sendable, Hashable, CustomStringConvertible {
    /// One attribute: its short name where OpenSSL knows one ("CN", "O", "OU"), else its dotted OID, and its value.
    public struct Attribute: Sendable, Hashable {
        public let type: String
        public let value: String

        public init(_ type: String, _ value: String) {
            self.type = type
            self.value = value
        }
    }

    public let attributes: [Attribute]

    public init(_ attributes: [Attribute]) {
        self.attributes = attributes
    }

    /// A name from attribute pairs in encoding order, e.g. `["O": "Cloister", "CN": "Platform CA"]`.
    public init(_ pairs: KeyValuePairs<String, String>) {
        self.attributes = pairs.map { Attribute($0.key, $0.value) }
    }

    /// The first value of an attribute type ("CN", "O", "OU", or a dotted OID).
    public subscript(type: String) -> String? {
        attributes.first { $0.type == type }?.value
    }

    /// The common name (CN), if any.
    public var commonName: String? { self["CN"] }

    /// The organization (O), if any.
    public var organization: String? { self["O"] }

    /// The organizational unit (OU), if any.
    public var organizationalUnit: String? { self["OU"] }

    /// RFC 4514 text: most specific attribute first, comma separated, special characters escaped.
    public var description: String {
        attributes.reversed().map { "\($0.type)=\(Self.escaped($0.value))" }.joined(separator: ",")
    }

    /// RFC 4514 §2.4 escaping of an attribute value.
    private static func escaped(_ value: String) -> String {
        var output = ""
        let lastIndex = value.count - 1
        for (index, character) in value.enumerated() {
            let first = index == 0
            let last = index == lastIndex
            if ",+\"\\<>;".contains(character) || (first && (character == "#" || character == " "))
                || (last && character == " ")
            {
                output.append("\\")
            }
            output.append(character)
        }
        return output
    }

    init(reading name: OpaquePointer?) throws {
        guard let name else { throw CryptoError(.malformedInput, "name is missing") }
        var attributes: [Attribute] = []
        for index in 0..<X509_NAME_entry_count(name) {
            let entry = X509_NAME_get_entry(name, index)
            let object = X509_NAME_ENTRY_get_object(entry)
            let nid = OBJ_obj2nid(object)
            let type = nid != NID_undef ? String(cString: OBJ_nid2sn(nid)) : ASN1Conversions.dottedText(object)
            var utf8: UnsafeMutablePointer<UInt8>?
            let length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry))
            guard length >= 0, let utf8 else {
                throw CryptoError(
                    .malformedInput, "name attribute \(type) is not a valid string: \(drainOpenSSLErrors())")
            }
            defer { cloister_OPENSSL_free(utf8) }
            attributes.append(
                Attribute(type, String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)))
        }
        self.attributes = attributes
    }

    /// A new OpenSSL name; the caller owns it.
    func makeOpenSSLName() throws -> OpaquePointer {
        guard let name = X509_NAME_new() else { throw CryptoError.openSSL("X509_NAME_new") }
        for attribute in attributes {
            let value = Array(attribute.value.utf8)
            guard X509_NAME_add_entry_by_txt(name, attribute.type, MBSTRING_UTF8, value, Int32(value.count), -1, 0) == 1
            else {
                X509_NAME_free(name)
                throw CryptoError(
                    .invalidParameter,
                    "name attribute \(attribute.type)=\(attribute.value) is refused: \(drainOpenSSLErrors())")
            }
        }
        return name
    }
}
