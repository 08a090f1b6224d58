/// The NIST prime curves Cloister signs and agrees keys on.
public enum ECCurve: String, Sendable, CaseIterable {
    case p256 = "P-256"
    case p384 = "P-384"

    /// Length in bytes of a field element, a scalar, and each half of a raw `r || s` signature.
    public var coordinateByteCount: Int {
        switch self {
        case .p256: 32
        case .p384: 48
        }
    }

    /// The digest that pairs with the curve in ES256 / ES384 and in X.509 signatures.
    public var defaultDigest: DigestAlgorithm {
        switch self {
        case .p256: .sha256
        case .p384: .sha384
        }
    }

    /// OpenSSL's group name, as a string OpenSSL may keep.
    var groupName: PermanentCString {
        switch self {
        case .p256: OpenSSLName.prime256v1
        case .p384: OpenSSLName.secp384r1
        }
    }

    /// OpenSSL's NID, for the EC_GROUP arithmetic that key derivation from a raw scalar needs.
    var nid: Int32 {
        switch self {
        case .p256: 415  // NID_X9_62_prime256v1
        case .p384: 715  // NID_secp384r1
        }
    }

    init?(groupName: String) {
        switch groupName {
        case "prime256v1", "P-256", "secp256r1": self = .p256
        case "secp384r1", "P-384": self = .p384
        default: return nil
        }
    }
}
