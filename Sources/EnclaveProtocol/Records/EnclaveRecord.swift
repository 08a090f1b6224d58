import CloisterCBOR
import CloisterCrypto

/// What the platform knows of an enclave it launched: the identity it measured, the manifest, the mechanisms that
/// confine it, and the platform it runs on. The platform sends it to the enclave at start-up and to the host with
/// the launch reply; quotes and reports are built from the platform's copy, never from anything the enclave says.
public struct EnclaveRecord: Sendable, Hashable {
    /// A random id for this launch (16 hex digits).
    public let enclaveID: String
    public let identity: EnclaveIdentity
    /// The manifest's canonical CBOR (its SHA-384 is the quote's `manifest_hash`).
    public let canonicalManifest: [UInt8]
    /// The isolation mechanisms in force.
    public var mechanisms: Set<IsolationMechanism>
    public let platformID: [UInt8]
    public let tcbLevel: UInt32
    /// The host-visible directory where evicted sealed-memory pages go.
    public let backingStoreDirectory: String
    /// The evidence the enclave's quotes take.
    public let evidence: EvidenceKind

    public init(
        enclaveID: String, identity: EnclaveIdentity, canonicalManifest: [UInt8], mechanisms: Set<IsolationMechanism>,
        platformID: [UInt8], tcbLevel: UInt32, backingStoreDirectory: String, evidence: EvidenceKind = .cloister
    ) {
        self.enclaveID = enclaveID
        self.identity = identity
        self.canonicalManifest = canonicalManifest
        self.manifestHash = DigestAlgorithm.sha384.hash(canonicalManifest)
        self.mechanisms = mechanisms
        self.platformID = platformID
        self.tcbLevel = tcbLevel
        self.backingStoreDirectory = backingStoreDirectory
        self.evidence = evidence
    }

    /// The manifest, decoded from its canonical form.
    public func manifest() throws -> EnclaveManifest {
        try EnclaveManifest(canonicalEncoding: canonicalManifest)
    }

    /// SHA-384 of the canonical manifest (computed once: every quote and report carries it).
    public let manifestHash: [UInt8]

    /// The mechanisms by name, sorted.
    public var mechanismNames: [String] { mechanisms.sorted().map(\.rawValue) }

    var cborValue: CBORValue {
        [
            "enclave_id": .text(enclaveID),
            "measurement": .bytes(identity.measurement),
            "signer": .bytes(identity.signer),
            "product_id": .unsigned(UInt64(identity.productID)),
            "svn": .unsigned(UInt64(identity.svn)),
            "debug": .bool(identity.debug),
            "manifest": .bytes(canonicalManifest),
            "isolation": .array(mechanismNames.map(CBORValue.text)),
            "platform_id": .bytes(platformID),
            "tcb_level": .unsigned(UInt64(tcbLevel)),
            "backing_store": .text(backingStoreDirectory),
            "evidence": .text(evidence.rawValue),
        ]
    }

    /// The deterministic CBOR encoding.
    public func encoded() throws -> [UInt8] { try cborValue.encoded() }

    /// Decodes a record; an unknown isolation mechanism or a mistyped field is an error.
    public init(encoded bytes: [UInt8]) throws {
        let malformed = PlatformError(.corruptState, "enclave record is not a well-formed map")
        let value = try CBORDecoder().decode(bytes)
        guard let enclaveID = value["enclave_id"]?.textValue, let measurement = value["measurement"]?.bytesValue,
            let signer = value["signer"]?.bytesValue, let productID = value["product_id"]?.uint64Value,
            productID <= UInt64(UInt16.max), let svn = value["svn"]?.uint64Value, svn <= UInt64(UInt16.max),
            let debug = value["debug"]?.boolValue, let manifest = value["manifest"]?.bytesValue,
            let isolation = value["isolation"]?.arrayValue, let platformID = value["platform_id"]?.bytesValue,
            let tcbLevel = value["tcb_level"]?.uint64Value, tcbLevel <= UInt64(UInt32.max),
            let backingStore = value["backing_store"]?.textValue,
            let evidence = value["evidence"]?.textValue.flatMap(EvidenceKind.init(rawValue:))
        else { throw malformed }
        let mechanisms = try isolation.map { item in
            guard let name = item.textValue, let mechanism = IsolationMechanism(rawValue: name) else { throw malformed }
            return mechanism
        }
        self.init(
            enclaveID: enclaveID,
            identity: try EnclaveIdentity(
                measurement: measurement, signer: signer, productID: UInt16(productID), svn: UInt16(svn),
                debug: debug),
            canonicalManifest: manifest, mechanisms: Set(mechanisms), platformID: platformID,
            tcbLevel: UInt32(tcbLevel), backingStoreDirectory: backingStore, evidence: evidence)
    }
}
