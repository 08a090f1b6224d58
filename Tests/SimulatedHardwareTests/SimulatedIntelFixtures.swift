import Attestation
import CloisterCBOR
import CloisterCrypto
import Foundation
import SimulatedHardware

/// When the tests' vendors are made and their collateral published (whole seconds, as dcap-qvl's clock).
let intelCreated = Date(timeIntervalSince1970: 1_900_000_000)
/// A day later: when the tests publish, quote and verify.
let intelNow = intelCreated + 86_400

/// A simulated enclave whose every identity byte derives from `seed`.
func intelEnclave(_ seed: UInt8, debug: Bool = false) -> SimulatedEnclave {
    SimulatedEnclave(
        measurement: [UInt8](repeating: seed, count: 48), signer: [UInt8](repeating: seed &+ 1, count: 48),
        productID: 7, svn: 3, debug: debug, manifestHash: [UInt8](repeating: seed &+ 2, count: 48),
        reportData: (0..<64).map { UInt8($0) ^ seed })
}

/// A platform id from `seed`.
func intelPlatformID(_ seed: UInt8) -> [UInt8] { (0..<16).map { UInt8($0) &+ seed } }

/// One kind of quote the vendor writes: its name, its format and how to make it.
struct IntelQuoteKind: Sendable, CustomStringConvertible {
    let description: String
    let format: EvidenceFormat
    let make:
        @Sendable (SimulatedIntelVendor, SimulatedEnclave, SimulatedTCB, SimulatedIntelCollateral) throws -> [UInt8]

    var tee: IntelDCAPQuoteHeader.TEE { format == .sgx ? .sgx : .tdx }

    static let all: [IntelQuoteKind] = [
        IntelQuoteKind(description: "SGX v3", format: .sgx) {
            try $0.sgxQuote(version: 3, enclave: $1, tcb: $2, collateral: $3)
        },
        IntelQuoteKind(description: "SGX v4", format: .sgx) {
            try $0.sgxQuote(version: 4, enclave: $1, tcb: $2, collateral: $3)
        },
        IntelQuoteKind(description: "TDX v4", format: .tdx) {
            try $0.tdxQuote(version: 4, tdBody: .td10, enclave: $1, tcb: $2, collateral: $3)
        },
        IntelQuoteKind(description: "TDX v5 TD 1.0", format: .tdx) {
            try $0.tdxQuote(version: 5, tdBody: .td10, enclave: $1, tcb: $2, collateral: $3)
        },
        IntelQuoteKind(description: "TDX v5 TD 1.5", format: .tdx) {
            try $0.tdxQuote(version: 5, tdBody: .td15, enclave: $1, tcb: $2, collateral: $3)
        },
    ]
}

/// Cloister's verdict on `quote` of `kind` with `collateral`, the vendor's root pinned for the kind's format.
func cloisterVerdict(
    _ quote: [UInt8], _ kind: IntelQuoteKind, root: X509Certificate, collateral: SimulatedIntelCollateral,
    at time: Date = intelNow
) throws -> EvidenceVerifier.Outcome {
    let trust = TrustStore([
        kind.format: TrustStore.FormatTrust(
            roots: [root], collateral: [try collateral.quoteCollateralJSON(tee: kind.tee)])
    ])
    return EvidenceVerifier(trust: trust).verify(quote, format: kind.format, at: time)
}

/// The names of the checks `outcome` failed.
func failedChecks(_ outcome: EvidenceVerifier.Outcome) -> [String] {
    outcome.checks.filter { !$0.passed }.map(\.name)
}

/// A stored CBOR map (a vendor, its collateral) whose fields a test changes.
struct EditableCBORMap {
    private var entries: [CBORMapEntry]

    init?(_ encoded: [UInt8]) throws {
        guard let map = try CBORDecoder().decode(encoded).mapValue else { return nil }
        entries = map
    }

    subscript(key: String) -> CBORValue? {
        get { entries.first { $0.key == .text(key) }?.value }
        set {
            entries.removeAll { $0.key == .text(key) }
            if let newValue { entries.append(CBORMapEntry(.text(key), newValue)) }
        }
    }

    func encoded() throws -> [UInt8] { try CBORValue.map(entries).encoded() }
}
