import CloisterCBOR
import CloisterCrypto

/// A local report (SGX's EREPORT): the platform's statement, to one target enclave on the same platform, of another
/// enclave's identity and 64 bytes of data that enclave chose. It is MACed (HMAC-SHA256) with the target's report
/// key, which only the platform and the target enclave can derive, so only the target can check it.
///
/// Encoded as the CBOR array [body, mac], where body is the deterministic map {"v", "measurement", "signer",
/// "product_id", "svn", "debug", "tcb_level", "manifest_hash", "isolation", "target", "report_data"}.
public struct EnclaveReport: Sendable, Hashable {
    /// The byte count of `reportData`.
    public static let reportDataByteCount = 64
    static let version: UInt64 = 1

    /// The target measurement of reports meant for the platform's quoting function.
    public static let quotingTarget = DigestAlgorithm.sha384.hash(Array("cloister-quoting-target-v1".utf8))

    /// The reporting enclave.
    public let identity: EnclaveIdentity
    public let tcbLevel: UInt32
    public let manifestHash: [UInt8]
    public let isolation: [String]
    /// The measurement of the enclave that can check the report.
    public let target: [UInt8]
    /// The reporting enclave's data, e.g. a hash of a public key and a nonce.
    public let reportData: [UInt8]
    /// The deterministic body the MAC covers.
    public let body: [UInt8]
    public let mac: [UInt8]

    /// Builds a report and MACs it with the target's report key, which `reportKey` derives once the target and the
    /// data are checked; platform side.
    package init(
        record: EnclaveRecord, target: [UInt8], reportData: [UInt8],
        reportKey: (_ target: [UInt8]) throws -> [UInt8]
    ) throws {
        guard reportData.count == Self.reportDataByteCount, target.count == EnclaveIdentity.digestByteCount else {
            throw PlatformError(
                .invalidRequest,
                "a report needs a 48-byte target measurement and \(Self.reportDataByteCount) bytes of report data")
        }
        identity = record.identity
        tcbLevel = record.tcbLevel
        manifestHash = record.manifestHash
        isolation = record.mechanismNames
        self.target = target
        self.reportData = reportData
        body = try Self.body(identity, tcbLevel, manifestHash, isolation, target, reportData).encoded()
        mac = try HMAC.authenticationCode(for: body, key: reportKey(target), digest: .sha256)
    }

    /// Decodes a report and checks its MAC with `reportKey`, the checking enclave's own report key.
    public init(encoded bytes: [UInt8], reportKey: [UInt8]) throws {
        let malformed = PlatformError(.reportRejected, "report is not a well-formed [body, mac] array")
        guard let fields = try? CBORDecoder().decode(bytes).arrayValue, fields.count == 2,
            let body = fields[0].bytesValue, let mac = fields[1].bytesValue
        else { throw malformed }
        guard try HMAC.isValidAuthenticationCode(mac, for: body, key: reportKey, digest: .sha256) else {
            throw PlatformError(
                .reportRejected, "report MAC does not verify: it targets another enclave or was altered")
        }
        guard let value = try? CBORDecoder().decode(body), value["v"]?.uint64Value == Self.version,
            let measurement = value["measurement"]?.bytesValue, let signer = value["signer"]?.bytesValue,
            let productID = value["product_id"]?.uint64Value, productID <= UInt64(UInt16.max),
            let svn = value["svn"]?.uint64Value, svn <= UInt64(UInt16.max), let debug = value["debug"]?.boolValue,
            let tcbLevel = value["tcb_level"]?.uint64Value, tcbLevel <= UInt64(UInt32.max),
            let manifestHash = value["manifest_hash"]?.bytesValue,
            let isolation = value["isolation"]?.arrayValue?.compactMap(\.textValue),
            let target = value["target"]?.bytesValue, let reportData = value["report_data"]?.bytesValue
        else { throw malformed }
        identity = try EnclaveIdentity(
            measurement: measurement, signer: signer, productID: UInt16(productID), svn: UInt16(svn), debug: debug)
        self.tcbLevel = UInt32(tcbLevel)
        self.manifestHash = manifestHash
        self.isolation = isolation
        self.target = target
        self.reportData = reportData
        self.body = body
        self.mac = mac
    }

    /// The encoding [body, mac].
    public func encoded() throws -> [UInt8] {
        try CBORValue.array([.bytes(body), .bytes(mac)]).encoded()
    }

    private static func body(
        _ identity: EnclaveIdentity, _ tcbLevel: UInt32, _ manifestHash: [UInt8], _ isolation: [String],
        _ target: [UInt8], _ reportData: [UInt8]
    ) -> CBORValue {
        [
            "v": .unsigned(version),
            "measurement": .bytes(identity.measurement),
            "signer": .bytes(identity.signer),
            "product_id": .unsigned(UInt64(identity.productID)),
            "svn": .unsigned(UInt64(identity.svn)),
            "debug": .bool(identity.debug),
            "tcb_level": .unsigned(UInt64(tcbLevel)),
            "manifest_hash": .bytes(manifestHash),
            "isolation": .array(isolation.map(CBORValue.text)),
            "target": .bytes(target),
            "report_data": .bytes(reportData),
        ]
    }
}
