public import Attestation
import CloisterCrypto
import Foundation

/// An appraisal policy: the reference values evidence must match and what else the relying party accepts.
///
/// Read from TOML or JSON with the same keys (see `CodingKeys`): an unknown key, a duplicate key, a value of the
/// wrong type or out of range is an error naming the key, so a typo never silently loosens a policy. Defaults are
/// strict: no debug, no simulated evidence, no development keys, only up-to-date TCB levels, and evidence at most
/// `defaultMaximumAgeSeconds` old.
public struct Policy: Sendable, Hashable, Encodable {
    /// A product the policy accepts, from a minimum security version on.
    public struct Product: Sendable, Hashable, Encodable {
        public var productID: UInt16
        public var minimumSVN: UInt16

        public init(productID: UInt16, minimumSVN: UInt16) {
            self.productID = productID
            self.minimumSVN = minimumSVN
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case productID = "product_id", minimumSVN = "min_svn"
        }
    }

    /// The maximum age of evidence when a policy does not set `max_age_seconds`: five minutes, the clock skew the
    /// appraisal also tolerates for timestamps in the future.
    public static let defaultMaximumAgeSeconds = 300
    /// The largest `max_age_seconds` a policy may set (365 days); `"unlimited"` turns the age check off.
    public static let maximumAgeLimit = 31_536_000
    /// The value of `max_age_seconds` that turns the age check off.
    public static let unlimitedAge = "unlimited"
    /// The longest reference value: a SHA-512 PCR.
    static let maximumReferenceValueSize = AttestationDocument.digests.values.max() ?? 64

    /// Names the policy in results (`ear.appraisal-policy-id`) and in the service's routes (see `checkID`).
    public var id: String
    /// Accepted enclave measurements (PCR0), lower-case hex.
    public var measurements: [String]
    /// Accepted values of other PCRs, by index.
    public var pcrs: [String: [String]]
    /// Accepted signers (PCR8), lower-case hex.
    public var signers: [String]
    /// Accepted products and their minimum SVN (Cloister quotes).
    public var products: [Product]
    public var allowDebug: Bool
    /// Whether a trust domain's attributes may be unsafe (`td-attributes`: reserved bits, migratable, SEPT_VE_DISABLE
    /// clear, ...).
    public var allowUnsafeTDAttributes: Bool
    public var allowSimulated: Bool
    /// Whether the published development signer (`Keys/dev-signer.pem`) is acceptable.
    public var allowDevelopmentKeys: Bool
    /// The oldest evidence accepted, in seconds; nil for no limit (`max_age_seconds = "unlimited"`).
    public var maximumAgeSeconds: Int?
    /// Whether the evidence must carry the nonce the verifier issued.
    public var requireNonce: Bool
    /// TCB statuses accepted; `out-of-date` among them makes the result a warning rather than affirming.
    public var acceptableTCBStatuses: [TCBStatus]
    /// Isolation mechanisms the platform must have applied (Cloister quotes).
    public var requiredIsolation: [String]
    /// Vendor advisories (Intel's "INTEL-SA-00615") the policy tolerates at an accepted TCB status; others are
    /// refused or warned of, as `otherAdvisories` says.
    public var allowedAdvisoryIDs: [String]
    public var otherAdvisories: AdvisoryHandling
    /// Accepted values of the format's own claims (`EvidenceFormat.referenceClaims`: SGX `mr_signer`, TDX `rtmr0`,
    /// `mr_config_id`, ...), by claim name, lower-case hex.
    public var claims: [String: [String]]
    /// How the nonce is bound into a hardware report's 64 bytes of report data (SGX, TDX).
    public var reportDataBinding: ReportDataBinding
    /// SEV-SNP: the lowest guest SVN, the lowest TCB per component, the VMPL a report must come from, and whether the
    /// guest policy may allow a migration agent.
    public var minimumGuestSVN: UInt32
    public var minimumTCB: SEVSNPMinimumTCB
    public var requiredVMPL: UInt32?
    public var allowMigrationAgent: Bool

    /// What a result is when the platform has an advisory the policy does not list.
    public enum AdvisoryHandling: String, Sendable, Hashable, CaseIterable, Encodable {
        /// The `advisories` check fails.
        case contraindicated
        /// The check passes, and the result is at best a warning.
        case warning
    }

    public init(
        id: String, measurements: [String] = [], pcrs: [String: [String]] = [:], signers: [String] = [],
        products: [Product] = [], allowDebug: Bool = false, allowUnsafeTDAttributes: Bool = false,
        allowSimulated: Bool = false,
        allowDevelopmentKeys: Bool = false, maximumAgeSeconds: Int? = Policy.defaultMaximumAgeSeconds,
        requireNonce: Bool = false, acceptableTCBStatuses: [TCBStatus] = [.upToDate],
        requiredIsolation: [String] = [], allowedAdvisoryIDs: [String] = [],
        otherAdvisories: AdvisoryHandling = .contraindicated, claims: [String: [String]] = [:],
        reportDataBinding: ReportDataBinding = .raw, minimumGuestSVN: UInt32 = 0,
        minimumTCB: SEVSNPMinimumTCB = SEVSNPMinimumTCB(), requiredVMPL: UInt32? = nil,
        allowMigrationAgent: Bool = false
    ) {
        self.id = id
        self.measurements = measurements.map { $0.lowercased() }
        self.pcrs = pcrs.mapValues { $0.map { $0.lowercased() } }
        self.signers = signers.map { $0.lowercased() }
        self.products = products
        self.allowDebug = allowDebug
        self.allowUnsafeTDAttributes = allowUnsafeTDAttributes
        self.allowSimulated = allowSimulated
        self.allowDevelopmentKeys = allowDevelopmentKeys
        self.maximumAgeSeconds = maximumAgeSeconds
        self.requireNonce = requireNonce
        self.acceptableTCBStatuses = acceptableTCBStatuses
        self.requiredIsolation = requiredIsolation
        self.allowedAdvisoryIDs = allowedAdvisoryIDs
        self.otherAdvisories = otherAdvisories
        self.claims = claims.mapValues { $0.map { $0.lowercased() } }
        self.reportDataBinding = reportDataBinding
        self.minimumGuestSVN = minimumGuestSVN
        self.minimumTCB = minimumTCB
        self.requiredVMPL = requiredVMPL
        self.allowMigrationAgent = allowMigrationAgent
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, measurements, pcrs, signers, products
        case allowDebug = "allow_debug", allowUnsafeTDAttributes = "allow_unsafe_td_attributes"
        case allowSimulated = "allow_simulated"
        case allowDevelopmentKeys = "allow_development_keys", maximumAgeSeconds = "max_age_seconds"
        case requireNonce = "require_nonce", acceptableTCBStatuses = "acceptable_tcb_statuses"
        case requiredIsolation = "required_isolation", allowedAdvisoryIDs = "allowed_advisory_ids"
        case otherAdvisories = "other_advisories", claims, reportDataBinding = "report_data_binding"
        case minimumGuestSVN = "min_guest_svn", minimumTCB = "minimum_tcb", requiredVMPL = "required_vmpl"
        case allowMigrationAgent = "allow_migration_agent"
    }

    /// Every key, `max_age_seconds` as `"unlimited"` when there is no limit, so that `init(text:)` reads back the
    /// same policy.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(measurements, forKey: .measurements)
        try container.encode(pcrs, forKey: .pcrs)
        try container.encode(signers, forKey: .signers)
        try container.encode(products, forKey: .products)
        try container.encode(allowDebug, forKey: .allowDebug)
        try container.encode(allowUnsafeTDAttributes, forKey: .allowUnsafeTDAttributes)
        try container.encode(allowSimulated, forKey: .allowSimulated)
        try container.encode(allowDevelopmentKeys, forKey: .allowDevelopmentKeys)
        if let maximumAgeSeconds {
            try container.encode(maximumAgeSeconds, forKey: .maximumAgeSeconds)
        } else {
            try container.encode(Self.unlimitedAge, forKey: .maximumAgeSeconds)
        }
        try container.encode(requireNonce, forKey: .requireNonce)
        try container.encode(acceptableTCBStatuses, forKey: .acceptableTCBStatuses)
        try container.encode(requiredIsolation, forKey: .requiredIsolation)
        try container.encode(allowedAdvisoryIDs, forKey: .allowedAdvisoryIDs)
        try container.encode(otherAdvisories, forKey: .otherAdvisories)
        try container.encode(claims, forKey: .claims)
        try container.encode(reportDataBinding, forKey: .reportDataBinding)
        try container.encode(minimumGuestSVN, forKey: .minimumGuestSVN)
        try container.encode(minimumTCB, forKey: .minimumTCB)
        try container.encodeIfPresent(requiredVMPL, forKey: .requiredVMPL)
        try container.encode(allowMigrationAgent, forKey: .allowMigrationAgent)
    }

    /// Reads a policy from TOML or JSON text (JSON when it starts with '{'). Every value is converted with a checked
    /// conversion: a wrong type, an integer out of range, a fraction where an integer belongs, a duplicate or unknown
    /// key is a `PolicyError` naming the key.
    public init(text: String) throws(PolicyError) {
        let root = try PolicyTable(
            PolicyValue.document(text), path: "", keys: CodingKeys.allCases.map(\.rawValue))
        guard let id = try root.string(CodingKeys.id.rawValue) else { throw PolicyError("missing key \"id\"") }
        var pcrs: [String: [String]] = [:]
        if let table = try root.table(CodingKeys.pcrs.rawValue) {
            for index in table.entries.keys {
                pcrs[index] = try table.strings(index)
            }
        }
        var claims: [String: [String]] = [:]
        if let table = try root.table(CodingKeys.claims.rawValue) {
            for name in table.entries.keys {
                claims[name] = try table.strings(name)
            }
        }
        var products: [Product] = []
        for product in try root.tables(CodingKeys.products.rawValue, keys: Product.CodingKeys.allCases.map(\.rawValue))
            ?? []
        {
            guard let productID = try product.integer(Product.CodingKeys.productID.rawValue, as: UInt16.self) else {
                throw PolicyError("missing key \"\(product.path(Product.CodingKeys.productID.rawValue))\"")
            }
            products.append(
                Product(
                    productID: productID,
                    minimumSVN: try product.integer(Product.CodingKeys.minimumSVN.rawValue, as: UInt16.self) ?? 0))
        }
        var statuses: [TCBStatus] = []
        for (index, name) in (try root.strings(CodingKeys.acceptableTCBStatuses.rawValue) ?? ["up-to-date"])
            .enumerated()
        {
            guard let status = TCBStatus(rawValue: name) else {
                throw PolicyError(
                    "\"\(CodingKeys.acceptableTCBStatuses.rawValue)[\(index)]\" is \"\(name)\", not one of "
                        + TCBStatus.allCases.map(\.rawValue).joined(separator: ", "))
            }
            statuses.append(status)
        }
        self.init(
            id: id,
            measurements: try root.strings(CodingKeys.measurements.rawValue) ?? [],
            pcrs: pcrs,
            signers: try root.strings(CodingKeys.signers.rawValue) ?? [],
            products: products,
            allowDebug: try root.bool(CodingKeys.allowDebug.rawValue) ?? false,
            allowUnsafeTDAttributes: try root.bool(CodingKeys.allowUnsafeTDAttributes.rawValue) ?? false,
            allowSimulated: try root.bool(CodingKeys.allowSimulated.rawValue) ?? false,
            allowDevelopmentKeys: try root.bool(CodingKeys.allowDevelopmentKeys.rawValue) ?? false,
            maximumAgeSeconds: try Self.maximumAge(root),
            requireNonce: try root.bool(CodingKeys.requireNonce.rawValue) ?? false,
            acceptableTCBStatuses: statuses,
            requiredIsolation: try root.strings(CodingKeys.requiredIsolation.rawValue) ?? [],
            allowedAdvisoryIDs: try root.strings(CodingKeys.allowedAdvisoryIDs.rawValue) ?? [],
            otherAdvisories: try root.choice(CodingKeys.otherAdvisories.rawValue, as: AdvisoryHandling.self)
                ?? .contraindicated,
            claims: claims,
            reportDataBinding: try root.choice(CodingKeys.reportDataBinding.rawValue, as: ReportDataBinding.self)
                ?? .raw,
            minimumGuestSVN: try root.integer(CodingKeys.minimumGuestSVN.rawValue, as: UInt32.self) ?? 0,
            minimumTCB: try Self.minimumTCB(root),
            requiredVMPL: try root.integer(CodingKeys.requiredVMPL.rawValue, as: UInt32.self, in: 0...3),
            allowMigrationAgent: try root.bool(CodingKeys.allowMigrationAgent.rawValue) ?? false)
        try validate()
    }

    /// `[minimum_tcb]`: bootloader, tee, snp, microcode and fmc (Turin), each 0 to 255, absent ones 0.
    private static func minimumTCB(_ root: PolicyTable) throws(PolicyError) -> SEVSNPMinimumTCB {
        guard let table = try root.table(CodingKeys.minimumTCB.rawValue) else { return SEVSNPMinimumTCB() }
        let keys = SEVSNPMinimumTCB.CodingKeys.allCases.map(\.rawValue)
        let checked = try PolicyTable(table.entries, path: table.path, keys: keys)
        func part(_ key: SEVSNPMinimumTCB.CodingKeys) throws(PolicyError) -> UInt8 {
            try checked.integer(key.rawValue, as: UInt8.self) ?? 0
        }
        return SEVSNPMinimumTCB(
            bootloader: try part(.bootloader), tee: try part(.tee), snp: try part(.snp),
            microcode: try part(.microcode),
            fmc: try part(.fmc))
    }

    /// `max_age_seconds`: absent for the default, a number of seconds, or `"unlimited"` for no limit.
    private static func maximumAge(_ root: PolicyTable) throws(PolicyError) -> Int? {
        let key = CodingKeys.maximumAgeSeconds.rawValue
        switch root.value(key) {
        case nil: return defaultMaximumAgeSeconds
        case .string(unlimitedAge): return nil
        case .integer(let seconds) where (1...maximumAgeLimit).contains(seconds): return seconds
        case let value?:
            throw PolicyError(
                "\"\(key)\" must be a number of seconds from 1 to \(maximumAgeLimit) or \"\(unlimitedAge)\", "
                    + "not \(value.shown)")
        }
    }

    /// Throws for a policy that could never be applied safely, naming the key at fault.
    public func validate() throws(PolicyError) {
        try Self.checkID(id)
        let lists =
            [(CodingKeys.measurements.rawValue, measurements), (CodingKeys.signers.rawValue, signers)]
            + pcrs.sorted { $0.key < $1.key }.map { ("\(CodingKeys.pcrs.rawValue).\($0.key)", $0.value) }
            + claims.sorted { $0.key < $1.key }.map { ("\(CodingKeys.claims.rawValue).\($0.key)", $0.value) }
        for (key, values) in lists {
            for (index, value) in values.enumerated() {
                guard let bytes = hexDecoded(value), (1...Self.maximumReferenceValueSize).contains(bytes.count)
                else {
                    throw PolicyError(
                        "\"\(key)[\(index)]\" is \"\(value.prefix(200))\", not 1 to "
                            + "\(Self.maximumReferenceValueSize) bytes of hexadecimal")
                }
            }
        }
        for index in pcrs.keys {
            guard let number = Int(index), String(number) == index, (0..<AttestationDocument.pcrCount).contains(number)
            else {
                throw PolicyError(
                    "\"\(CodingKeys.pcrs.rawValue)\" has the index \"\(index)\", not a number from 0 to "
                        + "\(AttestationDocument.pcrCount - 1)")
            }
        }
        let claimNames = Set(EvidenceFormat.allCases.flatMap(\.referenceClaims))
        for name in claims.keys.sorted() where !claimNames.contains(name) {
            throw PolicyError(
                "\"\(CodingKeys.claims.rawValue)\" names the claim \"\(name.prefix(200))\", which no format states; "
                    + "claims: "
                    + EvidenceFormat.allCases.filter { !$0.referenceClaims.isEmpty }
                    .map { "\($0.rawValue): \($0.referenceClaims.joined(separator: ", "))" }.joined(separator: "; "))
        }
        var productIDs: Set<UInt16> = []
        for (index, product) in products.enumerated() where !productIDs.insert(product.productID).inserted {
            throw PolicyError(
                "\"\(CodingKeys.products.rawValue)[\(index)].product_id\" \(product.productID) is listed twice")
        }
        if let maximumAgeSeconds, !(1...Self.maximumAgeLimit).contains(maximumAgeSeconds) {
            throw PolicyError(
                "\"\(CodingKeys.maximumAgeSeconds.rawValue)\" must be from 1 to \(Self.maximumAgeLimit), "
                    + "not \(maximumAgeSeconds)")
        }
    }

    /// Throws unless `id` can name a policy: 1 to 128 of the characters URLs leave unescaped (RFC 3986 §2.3:
    /// letters, digits, `-`, `.`, `_`, `~`), and not `.` or `..`, so that it is always one path segment of the
    /// service's routes.
    public static func checkID(_ id: String) throws(PolicyError) {
        let allowed = id.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                true
            default: false
            }
        }
        guard allowed, (1...128).contains(id.utf8.count), id != ".", id != ".." else {
            throw PolicyError(
                "\"id\" \"\(id.prefix(200))\" is not a policy id: 1 to 128 letters, digits, '-', '.', '_' or '~', "
                    + "and not \".\" or \"..\"")
        }
    }

    /// Reads the policy file at `path`; errors name the file.
    public init(contentsOfFile path: String) throws(PolicyError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PolicyError("cannot read policy file \(path)")
        }
        do {
            try self.init(text: text)
        } catch {
            throw PolicyError("\(path): \(error.reason)")
        }
    }
}

/// Why a policy was refused.
public struct PolicyError: Error, Sendable, Hashable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
