public import Attestation
import CloisterCrypto
public import FoundationEssentials

/// Which collateral a DCAP quote needs, as Intel's PCS serves it: the TCB info and QE identity of its TEE (SGX or
/// TDX), the TCB info of its platform's FMSPC, and the CRL of the CA that issued its PCK certificate (Intel's PCK
/// Platform CA or Processor CA).
public struct PCSCollateralKey: Sendable, Hashable, CustomStringConvertible {
    /// The CA that issued a PCK certificate, by the name the PCS's `ca` parameter takes.
    public enum PCKCA: String, Sendable, Hashable {
        case platform
        case processor

        /// The CA whose name is `name` (a PCK certificate's or a PCK CRL's issuer): its common name says "Platform"
        /// or "Processor" ("Intel SGX PCK Platform CA"), as dcap-qvl reads it.
        init?(issuer name: DistinguishedName) {
            guard let commonName = name.commonName else { return nil }
            if commonName.contains("Processor") {
                self = .processor
            } else if commonName.contains("Platform") {
                self = .platform
            } else {
                return nil
            }
        }
    }

    public let tee: IntelDCAPQuoteHeader.TEE
    /// Six bytes.
    public let fmspc: [UInt8]
    public let ca: PCKCA

    public init(tee: IntelDCAPQuoteHeader.TEE, fmspc: [UInt8], ca: PCKCA) {
        self.tee = tee
        self.fmspc = fmspc
        self.ca = ca
    }

    /// The collateral `quote` needs: its TEE, and the FMSPC and issuing CA of the PCK certificate its certification
    /// data carries. Nothing is verified here; the appraisal does that.
    public init(quote: IntelDCAPQuote) throws(PCSError) {
        let pem = String(decoding: quote.pckCertificateChain, as: UTF8.self)
        guard let pck = (try? X509Certificate.certificates(fromPEM: pem))?.first else {
            throw PCSError(
                .unsupportedQuote, "the \(quote.header.tee) quote's PCK certificate chain holds no PEM certificate")
        }
        let extensions: PCKCertificateExtensions
        do {
            extensions = try PCKCertificateExtensions(of: pck)
        } catch {
            throw PCSError(.unsupportedQuote, "the quote's FMSPC cannot be read: \(error.reason)")
        }
        guard let ca = PCKCA(issuer: pck.issuer) else {
            throw PCSError(
                .unsupportedQuote,
                "the quote's PCK certificate is issued by \(pck.issuer), neither Intel's PCK Platform CA nor its "
                    + "Processor CA, so no PCK CRL can be asked for")
        }
        self.init(tee: quote.header.tee, fmspc: extensions.fmspc, ca: ca)
    }

    /// The FMSPC as the PCS takes it: upper-case hex.
    public var fmspcHex: String { hexEncoded(fmspc).uppercased() }

    /// The cache file's name: `sgx-00A067110000-processor.json`.
    var fileName: String { "\(tee.description.lowercased())-\(fmspcHex)-\(ca.rawValue).json" }

    public var description: String { "\(tee) FMSPC \(fmspcHex) (PCK \(ca.rawValue) CA)" }
}

/// DCAP collateral as dcap-qvl's `QuoteCollateralV3` JSON (what `TrustStore.FormatTrust.collateral` holds and
/// `--collateral` reads), with what it is for and until when it can serve: the earliest next update of its TCB info,
/// QE identity, root CA CRL and PCK CRL.
public struct PCSCollateral: Sendable {
    public let json: [UInt8]
    /// The TEE and FMSPC of its TCB info, and the CA of its PCK CRL.
    public let key: PCSCollateralKey
    public let nextUpdate: Date

    /// Reads collateral JSON from `source` (a URL or a file, which every refusal names); nothing is verified but
    /// that the items read.
    public init(json: [UInt8], source: String) throws(PCSError) {
        func refusal(_ problem: String) -> PCSError {
            PCSError(.badResponse, "the DCAP collateral \(source): \(problem)")
        }
        let collateral: DCAPCollateral
        let tcbInfo: DCAPTCBInfo
        let qeIdentity: DCAPQEIdentity
        do {
            collateral = try DCAPCollateral(json: json, source: source)
            tcbInfo = try DCAPTCBInfo(json: collateral.tcbInfo)
            qeIdentity = try DCAPQEIdentity(json: collateral.qeIdentity)
        } catch {
            throw PCSError(.badResponse, error.reason)
        }
        guard let tee = [IntelDCAPQuoteHeader.TEE.sgx, .tdx].first(where: { $0.description == tcbInfo.id }) else {
            throw refusal("its TCB info is for \(tcbInfo.id), neither SGX nor TDX")
        }
        guard let ca = PCSCollateralKey.PCKCA(issuer: collateral.pckCRL.issuer) else {
            throw refusal(
                "its PCK CRL is issued by \(collateral.pckCRL.issuer), neither Intel's PCK Platform CA nor "
                    + "its Processor CA")
        }
        self.json = json
        key = PCSCollateralKey(tee: tee, fmspc: tcbInfo.fmspc, ca: ca)
        // A CRL without a next update is refused by the appraisal; it is never current here.
        nextUpdate =
            [
                tcbInfo.nextUpdate, qeIdentity.nextUpdate, collateral.rootCACRL.nextUpdate ?? .distantPast,
                collateral.pckCRL.nextUpdate ?? .distantPast,
            ].min() ?? .distantPast
    }

    /// Whether it can serve an appraisal at `time`: before its earliest next update.
    public func isCurrent(at time: Date) -> Bool {
        time < nextUpdate
    }
}
