public import CloisterCrypto

/// A COSE signature algorithm Cloister signs and verifies with (RFC 9053 §2.1).
public enum COSEAlgorithm: Int64, Sendable, CaseIterable {
    /// ECDSA on P-256 with SHA-256.
    case es256 = -7
    /// ECDSA on P-384 with SHA-384.
    case es384 = -35

    /// The algorithm that pairs with keys on `curve`.
    public init(curve: ECCurve) {
        switch curve {
        case .p256: self = .es256
        case .p384: self = .es384
        }
    }

    /// The curve the algorithm's keys lie on.
    public var curve: ECCurve {
        switch self {
        case .es256: .p256
        case .es384: .p384
        }
    }

    /// The algorithm's registered name, e.g. "ES256".
    public var name: String {
        switch self {
        case .es256: "ES256"
        case .es384: "ES384"
        }
    }
}
