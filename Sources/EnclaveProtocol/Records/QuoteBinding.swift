public import CloisterCBOR
import CloisterCrypto

/// What a quote binds besides the enclave's identity: the verifier's nonce, the enclave's user data and public key.
public struct QuoteBinding: Sendable, Hashable {
    public var nonce: [UInt8]?
    public var userData: [UInt8]?
    public var publicKey: [UInt8]?

    public init(nonce: [UInt8]? = nil, userData: [UInt8]? = nil, publicKey: [UInt8]? = nil) {
        self.nonce = nonce
        self.userData = userData
        self.publicKey = publicKey
    }

    /// The 64 bytes of report data that commit to the binding: SHA-512 of the CBOR array [nonce, user_data,
    /// public_key] (absent values `null`).
    public var reportData: [UInt8] {
        let fields: [CBORValue] = [nonce, userData, publicKey].map { $0.map(CBORValue.bytes) ?? .null }
        // Encoding byte strings and nulls cannot fail.
        return DigestAlgorithm.sha512.hash((try? CBORValue.array(fields).encoded()) ?? [])
    }

    /// The same binding, every field as a CBOR map entry (for requests over the platform channel).
    package var cborEntries: [CBORMapEntry] {
        [
            CBORMapEntry("nonce", nonce.map(CBORValue.bytes) ?? .null),
            CBORMapEntry("user_data", userData.map(CBORValue.bytes) ?? .null),
            CBORMapEntry("public_key", publicKey.map(CBORValue.bytes) ?? .null),
        ]
    }

    /// Reads the CBOR map {"nonce", "user_data"[, "public_key"]} (byte strings or null), as the quoting ECALL takes it.
    public init(_ value: CBORValue) throws {
        func field(_ key: String) throws -> [UInt8]? {
            guard let item = value[.text(key)], !item.isNull else { return nil }
            guard let bytes = item.bytesValue else {
                throw PlatformError(.invalidRequest, "quote binding field \"\(key)\" is not bytes or null")
            }
            return bytes
        }
        self.init(nonce: try field("nonce"), userData: try field("user_data"), publicKey: try field("public_key"))
    }
}
