public import Attestation
import Foundation
import TOMLKit

/// An appraisal policy: the reference values evidence must match and what else the relying party accepts.
///
/// Read from TOML or JSON with the same keys (see `CodingKeys`); an unknown key is an error naming it, so a typo
/// never silently loosens a policy. Defaults are strict: no debug, no simulated evidence, no development keys, only
/// up-to-date TCB levels.
public struct Policy: Sendable, Hashable, Codable {
    /// A product the policy accepts, from a minimum security version on.
    public struct Product: Sendable, Hashable, Codable {
        public var productID: UInt16
        public var minimumSVN: UInt16

        public init(productID: UInt16, minimumSVN: UInt16) {
            self.productID = productID
            self.minimumSVN = minimumSVN
        }

        enum CodingKeys: String, CodingKey, CaseIterable {
            case productID = "product_id", minimumSVN = "min_svn"
        }

        public init(from decoder: any Decoder) throws {
            try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), in: "products")
            let container = try decoder.container(keyedBy: CodingKeys.self)
            productID = try container.decode(UInt16.self, forKey: .productID)
            minimumSVN = try container.decodeIfPresent(UInt16.self, forKey: .minimumSVN) ?? 0
        }
    }

    /// Names the policy in results (`ear.appraisal-policy-id`).
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
    public var allowSimulated: Bool
    /// Whether the published development signer (`Keys/dev-signer.pem`) is acceptable.
    public var allowDevelopmentKeys: Bool
    /// The oldest evidence accepted, in seconds; nil for no limit.
    public var maximumAgeSeconds: Int?
    /// Whether the evidence must carry the nonce the verifier issued.
    public var requireNonce: Bool
    /// TCB statuses accepted; `out-of-date` among them makes the result a warning rather than affirming.
    public var acceptableTCBStatuses: [TCBStatusList.Status]
    /// Isolation mechanisms the platform must have applied (Cloister quotes).
    public var requiredIsolation: [String]

    public init(
        id: String, measurements: [String] = [], pcrs: [String: [String]] = [:], signers: [String] = [],
        products: [Product] = [], allowDebug: Bool = false, allowSimulated: Bool = false,
        allowDevelopmentKeys: Bool = false, maximumAgeSeconds: Int? = nil, requireNonce: Bool = false,
        acceptableTCBStatuses: [TCBStatusList.Status] = [.upToDate], requiredIsolation: [String] = []
    ) {
        self.id = id
        self.measurements = measurements.map { $0.lowercased() }
        self.pcrs = pcrs.mapValues { $0.map { $0.lowercased() } }
        self.signers = signers.map { $0.lowercased() }
        self.products = products
        self.allowDebug = allowDebug
        self.allowSimulated = allowSimulated
        self.allowDevelopmentKeys = allowDevelopmentKeys
        self.maximumAgeSeconds = maximumAgeSeconds
        self.requireNonce = requireNonce
        self.acceptableTCBStatuses = acceptableTCBStatuses
        self.requiredIsolation = requiredIsolation
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, measurements, pcrs, signers, products
        case allowDebug = "allow_debug", allowSimulated = "allow_simulated"
        case allowDevelopmentKeys = "allow_development_keys", maximumAgeSeconds = "max_age_seconds"
        case requireNonce = "require_nonce", acceptableTCBStatuses = "acceptable_tcb_statuses"
        case requiredIsolation = "required_isolation"
    }

    public init(from decoder: any Decoder) throws {
        try rejectUnknownKeys(decoder, known: CodingKeys.allCases.map(\.rawValue), in: "policy")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            measurements: try container.decodeIfPresent([String].self, forKey: .measurements) ?? [],
            pcrs: try container.decodeIfPresent([String: [String]].self, forKey: .pcrs) ?? [:],
            signers: try container.decodeIfPresent([String].self, forKey: .signers) ?? [],
            products: try container.decodeIfPresent([Product].self, forKey: .products) ?? [],
            allowDebug: try container.decodeIfPresent(Bool.self, forKey: .allowDebug) ?? false,
            allowSimulated: try container.decodeIfPresent(Bool.self, forKey: .allowSimulated) ?? false,
            allowDevelopmentKeys: try container.decodeIfPresent(Bool.self, forKey: .allowDevelopmentKeys) ?? false,
            maximumAgeSeconds: try container.decodeIfPresent(Int.self, forKey: .maximumAgeSeconds),
            requireNonce: try container.decodeIfPresent(Bool.self, forKey: .requireNonce) ?? false,
            acceptableTCBStatuses: try container.decodeIfPresent(
                [TCBStatusList.Status].self, forKey: .acceptableTCBStatuses) ?? [.upToDate],
            requiredIsolation: try container.decodeIfPresent([String].self, forKey: .requiredIsolation) ?? [])
        try validate()
    }

    /// Throws for a policy that could never be applied safely.
    public func validate() throws {
        guard !id.isEmpty, id.count <= 128 else { throw PolicyError("\"id\" must be 1 to 128 characters") }
        for value in measurements + signers + pcrs.values.flatMap({ $0 }) {
            guard value.count % 2 == 0, value.allSatisfy(\.isHexDigit), !value.isEmpty else {
                throw PolicyError("reference value \"\(value)\" is not hexadecimal")
            }
        }
        for index in pcrs.keys {
            guard let number = Int(index), (0..<AttestationDocument.pcrCount).contains(number) else {
                throw PolicyError("PCR index \"\(index)\" is not 0 to \(AttestationDocument.pcrCount - 1)")
            }
        }
        if let maximumAgeSeconds, maximumAgeSeconds <= 0 {
            throw PolicyError("\"max_age_seconds\" must be positive")
        }
    }

    /// Reads a policy from TOML or JSON text (JSON when it starts with '{').
    public init(text: String) throws {
        let trimmed = text.drop { $0.isWhitespace }
        do {
            if trimmed.first == "{" {
                self = try JSONDecoder().decode(Policy.self, from: Data(text.utf8))
            } else {
                self = try TOMLDecoder().decode(Policy.self, from: text)
            }
        } catch let error as PolicyError {
            throw error
        } catch let DecodingError.keyNotFound(key, context) {
            throw PolicyError("missing key \"\(Self.path(context.codingPath + [key]))\"")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
            let DecodingError.dataCorrupted(context)
        {
            throw PolicyError("\(Self.path(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw PolicyError("not valid TOML or JSON: \(error)")
        }
    }

    /// Reads the policy file at `path`; errors name the file.
    public init(contentsOfFile path: String) throws {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw PolicyError("cannot read policy file \(path)")
        }
        do {
            try self.init(text: text)
        } catch let error as PolicyError {
            throw PolicyError("\(path): \(error.reason)")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
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

/// Any key in the decoder's keyed container.
private struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// Throws when the keyed container being decoded has a key outside `known`.
private func rejectUnknownKeys(_ decoder: any Decoder, known: [String], in place: String) throws {
    let container = try decoder.container(keyedBy: AnyKey.self)
    if let unknown = container.allKeys.map(\.stringValue).first(where: { !known.contains($0) }) {
        throw PolicyError(
            "\(place): unknown key \"\(unknown)\"; known keys are \(known.sorted().joined(separator: ", "))")
    }
}
