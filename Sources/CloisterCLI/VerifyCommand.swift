public import ArgumentParser
import Attestation
import CloisterCrypto
import EnclaveRuntime
import Foundation

/// `cloister verify EVIDENCE`: the cryptographic appraisal of a Cloister quote, every check reported.
public struct VerifyCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify a Cloister quote: signature, certificate chain with CRLs, platform binding, TCB status, nonce.",
        discussion: """
            By default the trust material (root certificate, CRLs, TCB-status list) comes from the platform in \
            --home, else $CLOISTER_HOME, else ~/.cloister; only its public files are read. --trust-anchor and \
            --crl replace it. Quotes from the simulator always say simulated: true; never accept them as hardware \
            evidence. Exit status: 0 every check passed, 2 a check failed, 64 bad arguments, 1 internal error.
            """
    )

    @Argument(help: "The quote (COSE_Sign1), e.g. from `cloister run --quote-out`.")
    var evidence: String

    @Option(help: "The platform home whose published root, CRLs and TCB-status list to trust.")
    var home: String?

    @Option(name: .customLong("trust-anchor"), help: "A root certificate (PEM) to trust instead of the platform's.")
    var trustAnchors: [String] = []

    @Option(name: .customLong("crl"), help: "CRLs (PEM) to check with --trust-anchor.")
    var crls: [String] = []

    @Option(help: "The hex nonce the quote must carry.")
    var nonce: String?

    @Option(help: "Verify at this time (RFC 3339, e.g. 2026-11-23T10:00:00Z) instead of now.")
    var at: String?

    @Flag(help: "Print {\"verified\", \"checks\", \"claims\"} as JSON.")
    var json = false

    public init() {}

    public func validate() throws {
        if let nonce, hexDecoded(nonce) == nil { throw ValidationError("--nonce must be an even number of hex digits") }
        if let at, Self.date(at) == nil { throw ValidationError("--at must be an RFC 3339 time, e.g. 2026-11-23T10:00:00Z") }
        if !crls.isEmpty && trustAnchors.isEmpty { throw ValidationError("--crl goes with --trust-anchor") }
    }

    public func run() async throws {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: evidence)))
        } catch {
            throw ValidationError("cannot read the evidence file \(evidence)")
        }
        let checks = try reportingErrors { try trustChecks() }
        let (document, results) = checks.run(
            bytes, expectedNonce: nonce.flatMap(hexDecoded), at: at.flatMap(Self.date) ?? Date())
        let verified = results.allSatisfy(\.passed)
        let claims = document.map(QuoteClaims.init)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let report = VerificationReport(verified: verified, checks: results, claims: claims)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            for check in results {
                print("\(check.passed ? "pass" : "FAIL")  \(check.name): \(check.detail)")
            }
            if let claims {
                print("measurement \(claims.measurement)")
                print("signer      \(claims.signer)")
                if claims.simulated { print("note: simulated evidence (no hardware); policies must allow it explicitly") }
            }
            print(verified ? "verified" : "NOT verified")
        }
        if !verified { throw ExitCode(2) }
    }

    private func trustChecks() throws -> CloisterQuoteChecks {
        if trustAnchors.isEmpty {
            let trust = try PlatformHome.resolve(home, environment: ProcessInfo.processInfo.environment).publishedTrust()
            return CloisterQuoteChecks(
                trustAnchors: [trust.rootCertificate], revocationLists: trust.revocationLists,
                tcbStatusList: trust.tcbStatusList)
        }
        do {
            let anchors = try trustAnchors.flatMap { try X509Certificate.certificates(fromPEM: String(contentsOfFile: $0, encoding: .utf8)) }
            let lists = try crls.flatMap { try CertificateRevocationList.lists(fromPEM: String(contentsOfFile: $0, encoding: .utf8)) }
            return CloisterQuoteChecks(trustAnchors: anchors, revocationLists: lists, tcbStatusList: nil)
        } catch {
            throw ValidationError("cannot read --trust-anchor or --crl: \(error)")
        }
    }

    static func date(_ text: String) -> Date? {
        try? Date(text, strategy: .iso8601)
    }
}

/// What `verify --json` prints.
struct VerificationReport: Encodable {
    let verified: Bool
    let checks: [EvidenceCheck]
    let claims: QuoteClaims?
}

/// The claims of a decoded quote, in hex.
struct QuoteClaims: Encodable {
    let measurement: String
    let signer: String
    let nonce: String?
    let publicKey: String?
    let userData: String?
    let simulated: Bool
    let debug: Bool
    let productID: UInt16?
    let svn: UInt16?
    let tcbLevel: UInt32?
    let isolation: [String]
    let timestamp: UInt64

    enum CodingKeys: String, CodingKey {
        case measurement, signer, nonce, simulated, debug, svn, isolation, timestamp
        case publicKey = "public_key", userData = "user_data", productID = "product_id", tcbLevel = "tcb_level"
    }

    init(_ signed: SignedAttestationDocument) {
        let document = signed.document
        measurement = hexEncoded(document.pcrs[Platform.measurementPCR] ?? [])
        signer = hexEncoded(document.pcrs[Platform.signerPCR] ?? [])
        nonce = document.nonce.map(hexEncoded)
        publicKey = document.publicKey.map(hexEncoded)
        userData = document.userData.map(hexEncoded)
        simulated = document.cloister?.simulated ?? false
        debug = document.cloister?.debug ?? false
        productID = document.cloister?.productID
        svn = document.cloister?.svn
        tcbLevel = document.cloister?.tcbLevel
        isolation = document.cloister?.isolation ?? []
        timestamp = document.timestamp
    }
}
