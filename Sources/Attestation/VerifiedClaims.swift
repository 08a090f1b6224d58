import CloisterCrypto

/// What verified evidence states, in one shape for every format (byte values in lower-case hex).
public struct VerifiedClaims: Sendable, Hashable, Encodable {
    public let format: EvidenceFormat
    public let moduleID: String
    /// When the evidence was made, milliseconds since the epoch.
    public let timestamp: UInt64
    /// PCR index (decimal text) to value.
    public let pcrs: [String: String]
    /// PCR0: the enclave measurement.
    public let measurement: String
    /// PCR8: the signer (Cloister: the manifest signer's key hash; Nitro: the signing certificate's hash), if any.
    public let signer: String?
    public let nonce: String?
    public let userData: String?
    public let publicKey: String?
    /// Cloister: the enclave's debug flag. Nitro: PCR0 is all zeros, as in debug mode.
    public let debug: Bool
    /// Whether the evidence comes from a simulated platform: decided by its trust anchor (a Cloister platform root),
    /// never by its `cloister.simulated` claim.
    public let simulated: Bool
    public let productID: UInt16?
    public let svn: UInt16?
    public let platformID: String?
    public let tcbLevel: UInt32?
    /// The platform's TCB status by its vendor's signed list, when one was available.
    public let tcbStatus: TCBStatusList.Status?
    /// The isolation mechanisms the platform applied (Cloister).
    public let isolation: [String]?

    enum CodingKeys: String, CodingKey {
        case format, pcrs, measurement, signer, nonce, debug, simulated, svn, isolation, timestamp
        case moduleID = "module_id", userData = "user_data", publicKey = "public_key", productID = "product_id"
        case platformID = "platform_id", tcbLevel = "tcb_level", tcbStatus = "tcb_status"
    }

    init(
        _ signed: SignedAttestationDocument, format: EvidenceFormat, simulated: Bool, tcbStatus: TCBStatusList.Status?
    ) {
        let document = signed.document
        self.format = format
        moduleID = document.moduleID
        timestamp = document.timestamp
        pcrs = Dictionary(uniqueKeysWithValues: document.pcrs.map { (String($0.key), hexEncoded($0.value)) })
        let pcr0 = document.pcrs[0] ?? []
        measurement = hexEncoded(pcr0)
        signer = document.pcrs[8].map(hexEncoded)
        nonce = document.nonce.map(hexEncoded)
        userData = document.userData.map(hexEncoded)
        publicKey = document.publicKey.map(hexEncoded)
        let claims = document.cloister
        debug = claims?.debug ?? pcr0.allSatisfy { $0 == 0 }
        self.simulated = simulated
        productID = claims?.productID
        svn = claims?.svn
        platformID = claims.map { hexEncoded($0.platformID) }
        tcbLevel = claims?.tcbLevel
        self.tcbStatus = tcbStatus
        isolation = claims?.isolation
    }
}
