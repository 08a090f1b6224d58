import CloisterCrypto

/// What verified evidence states: a core every format maps its fields onto by written rules, so that one policy
/// serves every format, and the claims only its format makes (`details`). Byte values are lower-case hex.
///
/// Encoded as one flat object: the core's members and the format's.
public struct VerifiedClaims: Sendable, Hashable, Encodable {
    public let format: EvidenceFormat
    /// When the evidence was made, milliseconds since the epoch; nil when the format states no time (a DCAP quote:
    /// its freshness is the nonce its report data binds).
    public let timestamp: UInt64?
    /// The measurement registers by index (decimal text) to value: Nitro's and Cloister's PCRs.
    public let pcrs: [String: String]
    /// The enclave measurement (Nitro and Cloister: PCR0).
    public let measurement: String
    /// Who signed the enclave (Cloister: PCR8, the manifest signer's key hash; Nitro: PCR8, the signing certificate's
    /// hash), if the evidence says.
    public let signer: String?
    /// What the requester bound into the evidence: the nonce, user data and public key.
    public let nonce: String?
    public let userData: String?
    public let publicKey: String?
    /// The 64 bytes a hardware report binds for the requester (SGX, TDX, SEV-SNP), when the format has them instead
    /// of separate nonce, user data and public key; a policy's `report_data_binding` says how the nonce is bound.
    public let reportData: String?
    /// Whether the enclave runs in debug mode (Nitro: PCR0 is all zeros, as in debug mode).
    public let debug: Bool
    /// Whether the evidence comes from a simulated platform: decided by its trust anchor (a Cloister platform root),
    /// never by what the evidence claims.
    public let simulated: Bool
    /// The enclave's product id and security version, when the format states them.
    public let productID: UInt16?
    public let svn: UInt16?
    /// The platform's TCB status by its vendor's signed collateral, when the format states one and it was available.
    public let tcbStatus: TCBStatus?
    /// The vendor's security advisories that apply to the platform at its TCB level (Intel's "INTEL-SA-00615").
    public let advisoryIDs: [String]
    /// What only this format states.
    public let details: any FormatClaims

    public init(
        format: EvidenceFormat, timestamp: UInt64?, pcrs: [String: String], measurement: String, signer: String?,
        nonce: String?, userData: String?, publicKey: String?, reportData: String? = nil, debug: Bool, simulated: Bool,
        productID: UInt16?,
        svn: UInt16?, tcbStatus: TCBStatus?, advisoryIDs: [String] = [], details: any FormatClaims
    ) {
        self.format = format
        self.timestamp = timestamp
        self.pcrs = pcrs
        self.measurement = measurement
        self.signer = signer
        self.nonce = nonce
        self.userData = userData
        self.publicKey = publicKey
        self.reportData = reportData
        self.debug = debug
        self.simulated = simulated
        self.productID = productID
        self.svn = svn
        self.tcbStatus = tcbStatus
        self.advisoryIDs = advisoryIDs
        self.details = details
    }

    /// The same claims stating `nonce`, `userData` and `publicKey`, which bound evidence proved its report data binds.
    func binding(_ bound: BoundEvidence) -> VerifiedClaims {
        VerifiedClaims(
            format: format, timestamp: timestamp, pcrs: pcrs, measurement: measurement, signer: signer,
            nonce: bound.nonce.map(hexEncoded), userData: bound.userData.map(hexEncoded),
            publicKey: bound.publicKey.map(hexEncoded), reportData: reportData, debug: debug, simulated: simulated,
            productID: productID, svn: svn, tcbStatus: tcbStatus, advisoryIDs: advisoryIDs, details: details)
    }

    /// The format's own claims, if they are of type `type`.
    public func details<Details: FormatClaims>(as type: Details.Type) -> Details? {
        details as? Details
    }

    /// The core's members in key order, then the format's (so an encoder that sorts keys has little to move).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: ClaimKey.self)
        if !advisoryIDs.isEmpty { try container.encode(advisoryIDs, forKey: "advisory_ids") }
        try container.encode(debug, forKey: "debug")
        try container.encode(format, forKey: "format")
        try container.encode(measurement, forKey: "measurement")
        try container.encodeIfPresent(nonce, forKey: "nonce")
        try container.encode(pcrs, forKey: "pcrs")
        try container.encodeIfPresent(productID, forKey: "product_id")
        try container.encodeIfPresent(publicKey, forKey: "public_key")
        try container.encodeIfPresent(reportData, forKey: "report_data")
        try container.encodeIfPresent(signer, forKey: "signer")
        try container.encode(simulated, forKey: "simulated")
        try container.encodeIfPresent(svn, forKey: "svn")
        try container.encodeIfPresent(tcbStatus, forKey: "tcb_status")
        try container.encodeIfPresent(timestamp, forKey: "timestamp")
        try container.encodeIfPresent(userData, forKey: "user_data")
        try details.encode(into: &container)
    }

    public static func == (lhs: VerifiedClaims, rhs: VerifiedClaims) -> Bool {
        lhs.format == rhs.format && lhs.timestamp == rhs.timestamp && lhs.pcrs == rhs.pcrs
            && lhs.measurement == rhs.measurement && lhs.signer == rhs.signer && lhs.nonce == rhs.nonce
            && lhs.userData == rhs.userData && lhs.publicKey == rhs.publicKey && lhs.reportData == rhs.reportData
            && lhs.debug == rhs.debug
            && lhs.simulated == rhs.simulated && lhs.productID == rhs.productID && lhs.svn == rhs.svn
            && lhs.tcbStatus == rhs.tcbStatus && lhs.advisoryIDs == rhs.advisoryIDs
            && lhs.details.isEqual(to: rhs.details)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(format)
        hasher.combine(measurement)
        hasher.combine(timestamp)
        details.hash(into: &hasher)
    }
}

/// The claims only one format makes, encoded as members of the claims object beside the core's.
public protocol FormatClaims: Sendable, Hashable {
    /// Writes the format's claims into the claims object (keys in snake case, absent values left out).
    func encode(into container: inout KeyedEncodingContainer<ClaimKey>) throws
    /// The format's claims a policy may name in its `claims` table, by name, as lower-case hex.
    var referenceValues: [String: String] { get }
}

extension FormatClaims {
    public var referenceValues: [String: String] { [:] }
}

extension FormatClaims {
    /// Whether `other` is the same claims of the same format.
    fileprivate func isEqual(to other: any FormatClaims) -> Bool {
        (other as? Self) == self
    }
}

/// A member name of the claims object.
public struct ClaimKey: CodingKey, ExpressibleByStringLiteral, Sendable {
    public let stringValue: String
    public var intValue: Int? { nil }

    public init(stringValue: String) {
        self.stringValue = stringValue
    }

    public init?(intValue: Int) {
        nil
    }

    public init(stringLiteral value: String) {
        stringValue = value
    }
}
