/// Hybrid Public Key Encryption (RFC 9180), base mode.
public enum HPKE {}

extension HPKE {
    /// The algorithms of an HPKE context. Cloister supports DHKEM(P-256, HKDF-SHA256) with HKDF-SHA256 and
    /// AES-128-GCM or AES-256-GCM.
    public struct CipherSuite: Sendable, Hashable, CustomStringConvertible {
        /// The AEAD algorithms (RFC 9180 §7.3).
        public enum AEAD: UInt16, Sendable, Hashable {
            case aes128GCM = 0x0001
            case aes256GCM = 0x0002

            /// Nk: key length in bytes.
            var keyByteCount: Int { self == .aes128GCM ? 16 : 32 }
        }

        /// KEM identifier: DHKEM(P-256, HKDF-SHA256).
        public let kemID: UInt16 = 0x0010
        /// KDF identifier: HKDF-SHA256.
        public let kdfID: UInt16 = 0x0001
        public let aead: AEAD

        public init(aead: AEAD) {
            self.aead = aead
        }

        /// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-128-GCM (RFC 9180 Appendix A.3).
        public static let p256SHA256AES128GCM = CipherSuite(aead: .aes128GCM)
        /// DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, AES-256-GCM.
        public static let p256SHA256AES256GCM = CipherSuite(aead: .aes256GCM)

        public var description: String {
            "DHKEM(P-256, HKDF-SHA256), HKDF-SHA256, \(aead == .aes128GCM ? "AES-128-GCM" : "AES-256-GCM")"
        }

        /// `suite_id` for the key schedule: "HPKE" || kem_id || kdf_id || aead_id.
        var scheduleSuiteID: [UInt8] {
            Array("HPKE".utf8) + bigEndian(kemID) + bigEndian(kdfID) + bigEndian(aead.rawValue)
        }

        /// `suite_id` for the KEM: "KEM" || kem_id.
        var kemSuiteID: [UInt8] { Array("KEM".utf8) + bigEndian(kemID) }
    }
}

/// I2OSP(value, 2).
func bigEndian(_ value: UInt16) -> [UInt8] {
    [UInt8(value >> 8), UInt8(value & 0xff)]
}

/// RFC 9180 §4: extraction and expansion with the "HPKE-v1" label and a suite id.
struct LabeledKDF {
    let suiteID: [UInt8]
    private static let version = Array("HPKE-v1".utf8)

    func extract(salt: [UInt8], label: String, inputKeyMaterial: [UInt8]) throws -> [UInt8] {
        let labeled = Self.version + suiteID + Array(label.utf8) + inputKeyMaterial
        return try HKDF.extract(inputKeyMaterial: labeled, salt: salt, digest: .sha256)
    }

    func expand(pseudorandomKey: [UInt8], label: String, info: [UInt8], length: Int) throws -> [UInt8] {
        guard length <= UInt16.max else {
            throw CryptoError(.invalidParameter, "HPKE expansion length \(length) does not fit in two bytes")
        }
        let labeled = bigEndian(UInt16(length)) + Self.version + suiteID + Array(label.utf8) + info
        return try HKDF.expand(pseudorandomKey: pseudorandomKey, info: labeled, length: length, digest: .sha256)
    }
}
