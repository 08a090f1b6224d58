import CloisterCrypto

extension EvidenceFormat {
    /// An Intel SGX DCAP quote (version 3, 4 or 5) of an enclave.
    public static let sgx = EvidenceFormat(
        "sgx", name: "Intel SGX DCAP quote", mediaType: "application/vnd.intel.sgx-dcap-quote", statesTCBStatus: true,
        referenceClaims: SGXQuoteClaims.referenceClaims)
    /// An Intel TDX DCAP quote (version 4 or 5) of a trust domain.
    public static let tdx = EvidenceFormat(
        "tdx", name: "Intel TDX DCAP quote", mediaType: "application/vnd.intel.tdx-dcap-quote", statesTCBStatus: true,
        referenceClaims: TDXQuoteClaims.referenceClaims)
}

/// What a DCAP quote states about its platform, whatever its TEE: the PCK certificate's FMSPC and PCE-ID, and the TCB
/// evaluation data number of the collateral that judged it.
public struct DCAPPlatformClaims: Sendable, Hashable {
    public let fmspc: String
    public let pceID: String
    /// The TCB evaluation data number of the TCB info the status comes from.
    public let tcbEvaluationDataNumber: Int?

    func encode(into container: inout KeyedEncodingContainer<ClaimKey>) throws {
        try container.encode(fmspc, forKey: "fmspc")
        try container.encode(pceID, forKey: "pce_id")
        try container.encodeIfPresent(tcbEvaluationDataNumber, forKey: "tcb_evaluation_data_number")
    }
}

/// What only an SGX quote states beyond the core (which carries MRENCLAVE as `measurement`, MRSIGNER as `signer`,
/// ISVPRODID and ISVSVN as `product_id` and `svn`, and ATTRIBUTES.DEBUG as `debug`).
public struct SGXQuoteClaims: FormatClaims {
    /// The claims a policy may name in its `claims` table.
    public static let referenceClaims = ["mr_enclave", "mr_signer", "attributes", "misc_select", "cpu_svn"]

    public let mrEnclave: String
    public let mrSigner: String
    public let attributes: String
    public let miscSelect: String
    public let cpuSVN: String
    public let platform: DCAPPlatformClaims

    init(_ body: SGXReportBody, platform: DCAPPlatformClaims) {
        mrEnclave = hexEncoded(body.mrEnclave)
        mrSigner = hexEncoded(body.mrSigner)
        attributes = hexEncoded(body.attributes)
        miscSelect = hexEncoded((0..<4).map { UInt8(truncatingIfNeeded: body.miscSelect >> (8 * $0)) })
        cpuSVN = hexEncoded(body.cpuSVN)
        self.platform = platform
    }

    public var referenceValues: [String: String] {
        [
            "mr_enclave": mrEnclave, "mr_signer": mrSigner, "attributes": attributes, "misc_select": miscSelect,
            "cpu_svn": cpuSVN,
        ]
    }

    public func encode(into container: inout KeyedEncodingContainer<ClaimKey>) throws {
        try container.encode(attributes, forKey: "attributes")
        try container.encode(cpuSVN, forKey: "cpu_svn")
        try container.encode(miscSelect, forKey: "misc_select")
        try container.encode(mrEnclave, forKey: "mr_enclave")
        try container.encode(mrSigner, forKey: "mr_signer")
        try platform.encode(into: &container)
    }
}

/// What only a TDX quote states beyond the core (which carries MRTD as `measurement` and TD attributes' DEBUG bit as
/// `debug`): the run-time registers, the TD's configuration and owner, and the TDX module's identity.
public struct TDXQuoteClaims: FormatClaims {
    /// The claims a policy may name in its `claims` table.
    public static let referenceClaims = [
        "mr_td", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mr_config_id", "mr_owner", "mr_owner_config", "td_attributes",
        "xfam", "mr_seam", "mr_signer_seam", "seam_attributes", "tee_tcb_svn", "mr_service_td",
    ]

    public let values: [String: String]
    public let platform: DCAPPlatformClaims

    init(_ body: TDReportBody, platform: DCAPPlatformClaims) {
        var values = [
            "mr_td": body.mrTD, "mr_config_id": body.mrConfigID, "mr_owner": body.mrOwner,
            "mr_owner_config": body.mrOwnerConfig, "td_attributes": body.tdAttributes, "xfam": body.xfam,
            "mr_seam": body.mrSeam, "mr_signer_seam": body.mrSignerSeam, "seam_attributes": body.seamAttributes,
            "tee_tcb_svn": body.teeTCBSVN,
        ].mapValues(hexEncoded)
        for (index, register) in body.rtmrs.enumerated() { values["rtmr\(index)"] = hexEncoded(register) }
        if let serviceTD = body.mrServiceTD { values["mr_service_td"] = hexEncoded(serviceTD) }
        if let svn2 = body.teeTCBSVN2 { values["tee_tcb_svn2"] = hexEncoded(svn2) }
        self.values = values
        self.platform = platform
    }

    public var referenceValues: [String: String] { values }

    public func encode(into container: inout KeyedEncodingContainer<ClaimKey>) throws {
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            try container.encode(value, forKey: ClaimKey(stringValue: name))
        }
        try platform.encode(into: &container)
    }
}
