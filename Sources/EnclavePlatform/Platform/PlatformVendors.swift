import CloisterCBOR
public import CloisterCrypto
import EnclaveProtocol
import FoundationEssentials
import SimulatedHardware
import Synchronization

/// The platform's simulated hardware vendors, one per shape (Intel's SGX and TDX, AMD's SEV-SNP, AWS's Nitro), with
/// what each has published for the platform's TCB. Their keys are secret files of the home's generation; what they
/// publish is rewritten with every change of the platform (`publication`), so every kind of evidence follows the same
/// TCB life cycle as Cloister's own quotes.
struct PlatformVendors: Sendable {
    let intel: SimulatedIntelVendor
    let amd: SimulatedAMDVendor
    let nitro: SimulatedNitroVendor

    /// The product line of the AMD-shaped vendor.
    static let amdProductLine = "Milan"
    /// The cloud service provider the AMD-shaped vendor issues the platform's VLEK to.
    static let cloudServiceProvider = "Cloister Simulated Cloud"

    /// New vendors for the platform `platformID`, the AMD-shaped one with RSA keys of `amdKeyBits`, their
    /// certificates naming the collateral service at `collateralURL`.
    static func create(
        platformID: [UInt8], amdKeyBits: Int, collateralURL: String, at now: Date
    ) throws -> PlatformVendors {
        PlatformVendors(
            intel: try SimulatedIntelVendor.create(platformID: platformID, collateralURL: collateralURL, at: now),
            amd: try SimulatedAMDVendor.create(
                platformID: platformID, productLine: amdProductLine, rsaBits: amdKeyBits, at: now,
                cloudServiceProviderID: cloudServiceProvider, collateralURL: collateralURL),
            nitro: try SimulatedNitroVendor.create(platformID: platformID, at: now))
    }

    private init(intel: SimulatedIntelVendor, amd: SimulatedAMDVendor, nitro: SimulatedNitroVendor) {
        self.intel = intel
        self.amd = amd
        self.nitro = nitro
    }

    /// Loads the vendors from `generation`.
    init(_ generation: PlatformGeneration) throws {
        intel = try Self.load(.intelVendor, generation, SimulatedIntelVendor.init(encoded:))
        amd = try Self.load(.amdVendor, generation, SimulatedAMDVendor.init(encoded:))
        nitro = try Self.load(.nitroVendor, generation, SimulatedNitroVendor.init(encoded:))
    }

    /// The vendors' secret files and their roots (public), as `init` writes them.
    var files: [PlatformHome.File: [UInt8]] {
        get throws {
            [
                .intelVendor: try intel.encoded(),
                .amdVendor: try amd.encoded(),
                .nitroVendor: try nitro.encoded(),
                .vendorRoots: try roots.encoded(),
            ]
        }
    }

    /// What the vendors publish for `tcb`, their CRLs numbered `crlNumber` where the number is the platform's: their
    /// collateral files.
    func publication(_ tcb: SimulatedTCB, crlNumber: UInt64, at now: Date) throws -> [PlatformHome.File: [UInt8]] {
        [
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

    /// Reads `file` of `generation` with `decode`, a failure but the platform's own becoming `corrupt-state` naming
    /// the file.
    static func load<T>(
        _ file: PlatformHome.File, _ generation: PlatformGeneration, _ decode: ([UInt8]) throws -> T
    ) throws -> T {
        let bytes = try generation.read(file)
        do {
            return try decode(bytes)
        } catch {
            throw PlatformError(.corruptState, "\(generation.path(of: file)) is unreadable: \(error)")
        }
    }
}

/// What the platform's simulated vendors have published (public files of the generation): the Intel-shaped vendor's
/// collateral, the AMD-shaped vendor's, and the Nitro-shaped CAs' CRLs.
struct VendorPublication: Sendable {
    let intel: SimulatedIntelCollateral
    let amd: SimulatedAMDCollateral
    let nitroRevocationLists: [CertificateRevocationList]

    init(_ generation: PlatformGeneration) throws {
        intel = try PlatformVendors.load(.intelCollateral, generation, SimulatedIntelCollateral.init(encoded:))
        amd = try PlatformVendors.load(.amdCollateral, generation, SimulatedAMDCollateral.init(encoded:))
        nitroRevocationLists = try PlatformVendors.load(.nitroRevocationLists, generation) {
            try CertificateRevocationList.lists(fromPEM: String(decoding: $0, as: UTF8.self))
        }
    }
}

/// What the platform needs to make simulated hardware evidence and republish its collateral: the vendors, what they
/// published, and the AMD-shaped chip's report signers at the platform's TCB (keys derived once).
struct SimulatedHardwareState: Sendable {
    let vendors: PlatformVendors
    let published: VendorPublication
    let vcekSigner: SimulatedSNPSigner
    let vlekSigner: SimulatedSNPSigner

    init(_ generation: PlatformGeneration, tcb: SimulatedTCB) throws {
        vendors = try PlatformVendors(generation)
        published = try VendorPublication(generation)
        do {
            vcekSigner = try vendors.amd.signer(.vcek, tcb: tcb, collateral: published.amd)
            vlekSigner = try vendors.amd.signer(.vlek, tcb: tcb, collateral: published.amd)
        } catch {
            throw PlatformError(
                .corruptState,
                "\(generation.path(of: .amdCollateral)) does not certify the AMD-shaped chip's keys: \(error)")
        }
    }
}

/// The platform's `SimulatedHardwareState`, loaded from its generation at the first use: a launch that quotes in
/// Cloister's own format (or not at all) reads none of the vendors' keys.
final class LazySimulatedHardware: Sendable {
    private let generation: PlatformGeneration
    private let tcb: SimulatedTCB
    private let state = Mutex<SimulatedHardwareState?>(nil)

    init(_ generation: PlatformGeneration, tcb: SimulatedTCB) {
        self.generation = generation
        self.tcb = tcb
    }

    /// The state, loaded now if no caller has yet.
    func get() throws -> SimulatedHardwareState {
        try state.withLock { loaded in
            if let loaded { return loaded }
            let state = try SimulatedHardwareState(generation, tcb: tcb)
            loaded = state
            return state
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
