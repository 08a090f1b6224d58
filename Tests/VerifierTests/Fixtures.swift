import Attestation
import CloisterCBOR
import CloisterCrypto
import CloisterTestSupport
import EnclavePlatform
import EnclaveProtocol
import EnclaveSDK
import Foundation
import Testing
import Verifier

/// A simulated platform in a temporary home, quoting for a made-up enclave record.
struct CloisterEvidence {
    let home: PlatformHome
    let platform: Platform
    let record: EnclaveRecord

    init(debug: Bool = false, signer: [UInt8] = SignerIdentity.development.bytes, svn: UInt16 = 3) throws {
        let directory = try TestEnvironment.temporaryDirectory("verifier")
        home = PlatformHome(path: directory.appendingPathComponent("home").path)
        platform = try Platform.initialize(home: home, amdKeyBits: 2048)
        record = try Self.record(on: platform, debug: debug, signer: signer, svn: svn)
    }

    static func record(on platform: Platform, debug: Bool, signer: [UInt8], svn: UInt16) throws -> EnclaveRecord {
        try EnclaveRecord(
            enclaveID: "00000000000000aa",
            identity: EnclaveIdentity(
                measurement: [UInt8](repeating: 0x4d, count: 48), signer: signer, productID: 7, svn: svn, debug: debug),
            canonicalManifest: [1, 2, 3], mechanisms: [.landlock, .notDumpable, .seccomp],
            platformID: platform.platformID, tcbLevel: platform.tcbLevel, backingStoreDirectory: "/nonexistent")
    }

    /// A quote from `platform` (default: this one) for the record, bound to `nonce`, made at `time`.
    func quote(nonce: [UInt8]? = [0x01, 0x02], at time: Date = Date(), platform: Platform? = nil) throws -> [UInt8] {
        let platform = try platform ?? Platform(opening: home)
        let record = try Self.record(
            on: platform, debug: self.record.identity.debug, signer: self.record.identity.signer,
            svn: self.record.identity.svn)
        return try platform.quote(for: record, binding: QuoteBinding(nonce: nonce), at: time)
    }

    /// The trust a verifier of this platform uses, as published now.
    func trust() throws -> TrustStore {
        let published = try home.publishedTrust()
        return TrustStore(
            cloisterRoots: [published.rootCertificate], cloisterRevocationLists: published.revocationLists,
            tcbStatusLists: [published.tcbStatusList])
    }

    /// A policy that affirms this evidence.
    var policy: Policy {
        Policy(
            id: "cloister-test", measurements: [hexString(record.identity.measurement)],
            signers: [hexString(record.identity.signer)], products: [.init(productID: 7, minimumSVN: 2)],
            allowDebug: false, allowSimulated: true, allowDevelopmentKeys: true, maximumAgeSeconds: 300,
            requireNonce: true, requiredIsolation: ["landlock", "not-dumpable"])
    }
}

let testSigner = try! ResultSigner(key: ECPrivateKey(generating: .p256), build: "cloister tests")

func appraiser(_ trust: TrustStore) -> Appraiser {
    Appraiser(evidence: EvidenceVerifier(trust: trust), signer: testSigner)
}

/// A real AWS Nitro document from Tests/Vectors/testvectors/nitro, its pinned verification time and the AWS root.
struct NitroVector: Sendable, CustomStringConvertible {
    let name: String
    let verifyAt: String
    let isDebug: Bool

    static let all = [
        NitroVector(name: "evervault-prod-2022-10-13.cbor", verifyAt: "2022-10-13T10:00:00Z", isDebug: false),
        NitroVector(name: "evervault-debug-2022-10-12.cbor", verifyAt: "2022-10-12T15:00:00Z", isDebug: true),
        NitroVector(name: "evervault-debug-2023-09-18.cbor.b64", verifyAt: "2023-09-18T15:16:05Z", isDebug: true),
    ]

    var description: String { name }

    var time: Date { try! Date(verifyAt, strategy: .iso8601) }

    func bytes() throws -> [UInt8] {
        let data = try Data(contentsOf: TestEnvironment.vector("testvectors/nitro/\(name)"))
        guard name.hasSuffix(".b64") else { return Array(data) }
        return Array(Data(base64Encoded: data, options: .ignoreUnknownCharacters) ?? Data())
    }

    static func awsRoot() throws -> X509Certificate {
        let url = TestEnvironment.vector("testvectors/nitro/aws-nitro-root-g1.pem")
        return try X509Certificate(pemRepresentation: String(contentsOf: url, encoding: .utf8))
    }

    /// A policy holding the document's PCR0 and accepting it anywhere in its certificates' window: the document is
    /// made when its leaf certificate's three-hour window opens, an hour or more before its pinned time.
    func policy(allowDebug: Bool) throws -> Policy {
        let document = try SignedAttestationDocument(encoded: bytes()).document
        return Policy(
            id: "nitro-\(name)", measurements: [hexString(document.pcrs[0] ?? [])], allowDebug: allowDebug,
            maximumAgeSeconds: 4 * 3600)
    }
}

/// A PKI shaped like AWS Nitro's (a self-signed P-384 root, first in the CA bundle, and a leaf that signs the
/// document) that is neither AWS's nor a Cloister platform's.
struct NitroLikePKI {
    let root: CertificateAuthority
    let leafKey: ECPrivateKey
    let leaf: X509Certificate

    init(at time: Date = Date()) throws {
        root = try CertificateAuthority.selfSigned(
            CertificateProfile(
                subject: DistinguishedName(["O": "Example", "CN": "Example Nitro-like Root"]),
                notValidBefore: time - 86400, notValidAfter: time + 86400, isCertificateAuthority: true,
                keyUsage: [.keyCertSign, .cRLSign]),
            privateKey: ECPrivateKey(generating: .p384))
        leafKey = try ECPrivateKey(generating: .p384)
        leaf = try root.issue(
            CertificateProfile(
                subject: DistinguishedName(["O": "Example", "CN": "Example Enclave"]), notValidBefore: time - 3600,
                notValidAfter: time + 3600, isCertificateAuthority: false, keyUsage: [.digitalSignature]),
            for: leafKey.publicKey)
    }

    /// A document for PCR0 `measurement` made at `time`, signed by the leaf.
    func document(measurement: [UInt8], digest: String = "SHA384", at time: Date = Date()) throws -> [UInt8] {
        let document = AttestationDocument(
            moduleID: "i-0example-enc0example", digest: digest,
            timestamp: UInt64(time.timeIntervalSince1970 * 1000), pcrs: [0: measurement],
            certificate: leaf.derRepresentation, caBundle: [root.certificate.derRepresentation])
        return try COSESign1(signing: document.encoded(), with: leafKey).encoded()
    }
}

/// The tamper matrix of `evidence`: each byte flipped one bit at a time and verified by `verify`. Expects every flip
/// refused, each with a failing check that states its reason, and prints how many were tried and refused as `name`.
func expectTamperMatrixRefused(
    _ name: String, _ evidence: [UInt8], verify: ([UInt8]) -> EvidenceVerifier.Outcome
) {
    var accepted: [Int] = []
    var unnamed: [Int] = []
    for position in evidence.indices {
        var flipped = evidence
        flipped[position] ^= 1
        let failures = verify(flipped).checks.filter { !$0.passed }
        if failures.isEmpty { accepted.append(position) }
        if failures.contains(where: { $0.detail.isEmpty }) { unnamed.append(position) }
    }
    print("\(name): \(evidence.count) flips tried, \(evidence.count - accepted.count) refused")
    #expect(accepted.isEmpty, "\(name): flips at \(accepted.prefix(40)) were accepted")
    #expect(unnamed.isEmpty, "\(name): flips at \(unnamed.prefix(40)) failed a check without a reason")
}
