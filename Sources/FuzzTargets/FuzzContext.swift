public import Attestation
import CloisterCrypto
public import FoundationEssentials

/// What the targets verify against, built once per process: the trust of the real vectors (Intel's SGX root with the
/// vectors' DCAP collateral, AMD's Milan chain with the vectors' VCEKs, AWS's Nitro root) and fixed keys for the
/// federation targets, so that inputs a campaign keeps replay the same way in tests.
public struct FuzzContext: Sendable {
    /// The checkout: its test vectors (`Tests/Vectors/testvectors`) and manifests (`Manifests`) are read.
    public let root: URL
    var vectors: URL { root.appendingPathComponent("Tests/Vectors/testvectors") }
    public let trust: TrustStore
    /// When each format's vectors verify (their README).
    static let dcapTime = Date(timeIntervalSince1970: 1_751_328_000)  // 2025-07-01T00:00:00Z
    static let snpTime = Date(timeIntervalSince1970: 1_748_736_000)  // 2025-06-01T00:00:00Z
    /// The aggregator's key and a client's, fixed: a sealed update in a corpus opens with them.
    let aggregatorKey: ECPrivateKey
    let clientKey: ECPrivateKey
    static let federationID = "fuzz-federation"
    static let client = "client-1"

    /// Reads the trust material under the checkout `root`; throws naming the file that is missing or does not read.
    public init(root: URL) throws {
        self.root = root
        let vectors = root.appendingPathComponent("Tests/Vectors/testvectors")
        func file(_ path: String) throws -> [UInt8] {
            do {
                return Array(try Data(contentsOf: vectors.appendingPathComponent(path)))
            } catch {
                throw CryptoError(.invalidParameter, "the fuzz context needs \(vectors.path)/\(path): \(error)")
            }
        }
        let sgxQuote = try IntelDCAPQuote(file("sgx/sgx_quote"))
        let intelRoot = try X509Certificate.certificates(fromChainPEM: sgxQuote.pckCertificateChain).last!
        let milan = try X509Certificate.certificates(
            fromPEM: String(decoding: file("snp/milan_ask_ark_asvk.pem"), as: UTF8.self))
        let vceks = try ["snp/vcek.testcer", "snp/trustee-milan-vcek.der"].map(file)
        let nitroRoot = try X509Certificate(
            pemRepresentation: String(decoding: file("nitro/aws-nitro-root-g1.pem"), as: UTF8.self))
        trust = TrustStore([
            .sgx: TrustStore.FormatTrust(roots: [intelRoot], collateral: [try file("sgx/sgx_quote_collateral.json")]),
            .tdx: TrustStore.FormatTrust(roots: [intelRoot], collateral: [try file("sgx/tdx_quote_collateral.json")]),
            .snp: .sevSNP(vendorChain: milan, endorsementKeys: vceks),
            .nitro: TrustStore.FormatTrust(roots: [nitroRoot]),
        ])
        aggregatorKey = try ECPrivateKey(rawRepresentation: [UInt8](repeating: 0x11, count: 32), curve: .p256)
        clientKey = try ECPrivateKey(rawRepresentation: [UInt8](repeating: 0x22, count: 32), curve: .p256)
    }
}
