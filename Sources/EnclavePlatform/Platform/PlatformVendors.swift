import CloisterCBOR
public import CloisterCrypto
import EnclaveProtocol
import FoundationEssentials
import SimulatedHardware

/// The platform's simulated hardware vendors, one per shape (Intel's SGX and TDX, AMD's SEV-SNP, AWS's Nitro), each
/// with what it has published for the platform's TCB. Their keys are secret files of the home's generation; what
/// they publish is rewritten with every change of the platform (`publication`), so every kind of evidence follows the
/// same TCB life cycle as Cloister's own quotes.
struct PlatformVendors: Sendable {
    let intel: SimulatedIntelVendor
    let intelCollateral: SimulatedIntelCollateral
    let amd: SimulatedAMDVendor
    let amdCollateral: SimulatedAMDCollateral
    let nitro: SimulatedNitroVendor
    let nitroRevocationLists: [CertificateRevocationList]

    /// The product line of the AMD-shaped vendor.
    static let amdProductLine = "Milan"
    /// The cloud service provider the AMD-shaped vendor issues the platform's VLEK to.
    static let cloudServiceProvider = "Cloister Simulated Cloud"

    /// New vendors for the platform `platformID`, the AMD-shaped one with RSA keys of `amdKeyBits`: their secret
    /// files, and their roots (public).
    static func create(platformID: [UInt8], amdKeyBits: Int, at now: Date) throws -> [PlatformHome.File: [UInt8]] {
        let intel = try SimulatedIntelVendor.create(platformID: platformID, at: now)
        let amd = try SimulatedAMDVendor.create(
            platformID: platformID, productLine: amdProductLine, rsaBits: amdKeyBits, at: now,
            cloudServiceProviderID: cloudServiceProvider)
        let nitro = try SimulatedNitroVendor.create(platformID: platformID, at: now)
        return [
            .intelVendor: try intel.encoded(),
            .amdVendor: try amd.encoded(),
            .nitroVendor: try nitro.encoded(),
            .vendorRoots: try VendorRoots(
                intel: intel.rootCertificate, amd: amd.arkCertificate, nitro: nitro.rootCertificate
            ).encoded(),
        ]
    }

    /// What the vendors in `files` (falling back on `generation`'s) publish for `tcb`: their collateral files.
    static func publication(
        _ tcb: SimulatedTCB, crlNumber: UInt64, vendorFiles files: [PlatformHome.File: [UInt8]],
        generation: PlatformGeneration?, at now: Date
    ) throws -> [PlatformHome.File: [UInt8]] {
        func read(_ file: PlatformHome.File) throws -> [UInt8] {
            if let bytes = files[file] { return bytes }
            guard let generation else {
                throw PlatformError(.corruptState, "the first generation lacks \(file.rawValue)")
            }
            return try generation.read(file)
        }
        let path = { (file: PlatformHome.File) in generation?.path(of: file) ?? file.rawValue }
        let intel = try vendor(path(.intelVendor)) { try SimulatedIntelVendor(encoded: read(.intelVendor)) }
        let amd = try vendor(path(.amdVendor)) { try SimulatedAMDVendor(encoded: read(.amdVendor)) }
        let nitro = try vendor(path(.nitroVendor)) {
            try SimulatedNitroVendor(encoded: read(.nitroVendor), path: path(.nitroVendor))
        }
        return [
            .intelCollateral: try intel.publish(tcb, at: now).encoded(),
            .amdCollateral: try amd.publish(tcb, at: now).encoded(),
            .nitroRevocationLists: Array(
                try nitro.revocationLists(tcb, number: crlNumber, at: now).map(\.pemRepresentation).joined().utf8),
        ]
    }

    /// The vendors' roots.
    var roots: VendorRoots {
        VendorRoots(intel: intel.rootCertificate, amd: amd.arkCertificate, nitro: nitro.rootCertificate)
    }

    /// Loads the vendors and their publications from `generation`.
    init(_ generation: PlatformGeneration) throws {
        intel = try Self.vendor(generation.path(of: .intelVendor)) {
            try SimulatedIntelVendor(encoded: generation.read(.intelVendor))
        }
        intelCollateral = try Self.vendor(generation.path(of: .intelCollateral)) {
            try SimulatedIntelCollateral(encoded: generation.read(.intelCollateral))
        }
        amd = try Self.vendor(generation.path(of: .amdVendor)) {
            try SimulatedAMDVendor(encoded: generation.read(.amdVendor))
        }
        amdCollateral = try Self.vendor(generation.path(of: .amdCollateral)) {
            try SimulatedAMDCollateral(encoded: generation.read(.amdCollateral))
        }
        nitro = try Self.vendor(generation.path(of: .nitroVendor)) {
            try SimulatedNitroVendor(encoded: generation.read(.nitroVendor), path: generation.path(of: .nitroVendor))
        }
        nitroRevocationLists = try Self.vendor(generation.path(of: .nitroRevocationLists)) {
            try CertificateRevocationList.lists(fromPEM: generation.readText(.nitroRevocationLists))
        }
    }

    /// Runs `load`, turning any failure but the platform's own into `corrupt-state` naming `path`.
    private static func vendor<T>(_ path: String, _ load: () throws -> T) throws -> T {
        do {
            return try load()
        } catch let error as PlatformError {
            throw error
        } catch {
            throw PlatformError(.corruptState, "\(path) holds an unreadable simulated vendor: \(error)")
        }
    }
}

/// The simulated vendors' roots, what a verifier of the platform's evidence pins (`vendor-roots.cbor`, public): the
/// deterministic CBOR map {"amd", "intel", "nitro"} of DER certificates.
public struct VendorRoots: Sendable {
    /// The Intel-shaped SGX root CA (SGX and TDX quotes).
    public let intel: X509Certificate
    /// The AMD-shaped ARK of the platform's product line.
    public let amd: X509Certificate
    /// The Nitro-shaped root.
    public let nitro: X509Certificate

    init(intel: X509Certificate, amd: X509Certificate, nitro: X509Certificate) {
        self.intel = intel
        self.amd = amd
        self.nitro = nitro
    }

    func encoded() throws -> [UInt8] {
        try CBORValue.map([
            CBORMapEntry("amd", .bytes(amd.derRepresentation)),
            CBORMapEntry("intel", .bytes(intel.derRepresentation)),
            CBORMapEntry("nitro", .bytes(nitro.derRepresentation)),
        ]).encoded()
    }

    init(encoded bytes: [UInt8], path: String) throws {
        func root(_ key: String) throws -> X509Certificate {
            guard let value = try? CBORDecoder().decode(bytes), let der = value[.text(key)]?.bytesValue,
                let certificate = try? X509Certificate(derRepresentation: der)
            else {
                throw PlatformError(.corruptState, "\(path) lacks a readable \"\(key)\" root certificate")
            }
            return certificate
        }
        self.init(intel: try root("intel"), amd: try root("amd"), nitro: try root("nitro"))
    }
}
