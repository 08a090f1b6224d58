import AsyncHTTPClient
import Attestation
import CloisterCrypto
import FoundationEssentials
import NIOHTTP1

/// Fetches a DCAP quote's collateral from Intel's PCS (API v4) or a PCCS, as dcap-qvl 0.7.0's `CollateralClient`
/// does, with the same URLs and the same headers read:
///
/// - `GET {base}/sgx/certification/v4/pckcrl?ca={platform|processor}&encoding=der`: the PCK CRL (DER), its issuer
///   chain in header `SGX-PCK-CRL-Issuer-Chain`;
/// - `GET {base}/{sgx|tdx}/certification/v4/tcb?fmspc={FMSPC}&update=standard`: `{"tcbInfo": …, "signature": …}`,
///   its issuer chain in `SGX-TCB-Info-Issuer-Chain` (or `TCB-Info-Issuer-Chain`);
/// - `GET {base}/{sgx|tdx}/certification/v4/qe/identity?update=standard`: `{"enclaveIdentity": …, "signature": …}`,
///   its issuer chain in `SGX-Enclave-Identity-Issuer-Chain`;
/// - the root CA CRL: from a PCCS, `GET {base}/sgx/certification/v4/rootcacrl` (hex); from Intel's PCS, or when a
///   PCCS does not answer it, from the CRL distribution point of the root that ends the QE identity's issuer chain
///   (DER).
///
/// Issuer chains are URL-encoded PEM. The TCB info and QE identity are kept byte for byte as served (Intel signs
/// those bytes). Every item is read before it is accepted, and every answer is bounded: http and https only, at most
/// `maximumResponseSize` bytes, `requestTimeout` for the whole exchange. Nothing is verified here: the appraisal
/// checks signatures, chains and dates.
public struct PCSClient: Sendable {
    /// Intel's PCS; dcap-qvl fetches the root CA CRL from its CRL distribution point rather than from here.
    public static let intelPCSURL = "https://api.trustedservices.intel.com"

    /// The base URL, without trailing slashes or a `/sgx|tdx/certification/v4` suffix (either is accepted).
    public let baseURL: String
    public var maximumResponseSize: Int {
        get { http.maximumResponseSize }
        set { http.maximumResponseSize = newValue }
    }
    public var connectTimeout: Duration {
        get { http.connectTimeout }
        set { http.connectTimeout = newValue }
    }
    public var requestTimeout: Duration {
        get { http.requestTimeout }
        set { http.requestTimeout = newValue }
    }
    private var http: CollateralHTTP

    /// A client of the PCS or PCCS at `baseURL`: an absolute http or https URL with a host, no query or fragment.
    public init(
        baseURL: String, maximumResponseSize: Int = 4 << 20, connectTimeout: Duration = .seconds(10),
        requestTimeout: Duration = .seconds(60)
    ) throws(PCSError) {
        try Self.checkHTTP(baseURL, "the PCCS URL")
        guard var base = CollateralHTTP.baseURL(baseURL) else {
            throw PCSError(.badURL, "the PCCS URL \(baseURL) has a query or fragment; give the service's base URL")
        }
        for suffix in ["/sgx/certification/v4", "/tdx/certification/v4"] {
            while base.hasSuffix(suffix) { base = base.dropLast(suffix.count) }
        }
        self.baseURL = String(base)
        http = CollateralHTTP(
            maximumResponseSize: maximumResponseSize, connectTimeout: connectTimeout, requestTimeout: requestTimeout)
    }

    /// Fetches the collateral `key` names, in dcap-qvl's order (PCK CRL, TCB info, QE identity, root CA CRL), and
    /// assembles it as `QuoteCollateralV3` JSON. Throws, naming the URL, when an answer is not what was asked for.
    public func collateral(for key: PCSCollateralKey) async throws(PCSError) -> PCSCollateral {
        do {
            return try await http.withClient { client in try await assemble(key, client: client) }
        } catch let error as PCSError {
            throw error
        } catch {
            throw PCSError(.unavailable, "the PCCS \(baseURL): \(error)")
        }
    }

    private func assemble(_ key: PCSCollateralKey, client: HTTPClient) async throws(PCSError) -> PCSCollateral {
        let tee = key.tee.description.lowercased()
        let pckCRL = try await get(url("sgx", "pckcrl?ca=\(key.ca.rawValue)&encoding=der"), client)
        let pckCRLIssuerChain = try pckCRL.issuerChain("SGX-PCK-CRL-Issuer-Chain")
        try pckCRL.crl(pckCRL.body)
        let tcb = try await get(url(tee, "tcb?fmspc=\(key.fmspcHex)&update=standard"), client)
        let tcbInfoIssuerChain = try tcb.issuerChain("SGX-TCB-Info-Issuer-Chain", or: "TCB-Info-Issuer-Chain")
        let tcbInfo = try SignedJSONItem(tcb.body, member: "tcbInfo", url: tcb.url)
        let qe = try await get(url(tee, "qe/identity?update=standard"), client)
        let qeIdentityIssuerChain = try qe.issuerChain("SGX-Enclave-Identity-Issuer-Chain")
        let qeIdentity = try SignedJSONItem(qe.body, member: "enclaveIdentity", url: qe.url)
        do {
            _ = try DCAPTCBInfo(json: tcbInfo.item)
        } catch {
            throw PCSError(.badResponse, "GET \(tcb.url): the tcbInfo does not read: \(error.reason)")
        }
        do {
            _ = try DCAPQEIdentity(json: qeIdentity.item)
        } catch {
            throw PCSError(.badResponse, "GET \(qe.url): the enclaveIdentity does not read: \(error.reason)")
        }
        let rootCACRL = try await rootCACRL(
            qeIdentityIssuerChain: qeIdentityIssuerChain, issuerChainURL: qe.url, client)

        let source = "fetched from \(baseURL)"
        let fields = [
            "pck_crl_issuer_chain": pckCRLIssuerChain.pem, "root_ca_crl": hexEncoded(rootCACRL),
            "pck_crl": hexEncoded(pckCRL.body), "tcb_info_issuer_chain": tcbInfoIssuerChain.pem,
            "tcb_info": String(decoding: tcbInfo.item, as: UTF8.self),
            "tcb_info_signature": hexEncoded(tcbInfo.signature),
            "qe_identity_issuer_chain": qeIdentityIssuerChain.pem,
            "qe_identity": String(decoding: qeIdentity.item, as: UTF8.self),
            "qe_identity_signature": hexEncoded(qeIdentity.signature),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let json: [UInt8]
        do {
            json = Array(try encoder.encode(fields))
        } catch {
            throw PCSError(.badResponse, "the collateral \(source) cannot be written as JSON: \(error)")
        }
        let collateral = try PCSCollateral(json: json, source: source)
        guard collateral.key.tee == key.tee, collateral.key.fmspc == key.fmspc else {
            throw PCSError(
                .badResponse,
                "GET \(tcb.url): the TCB info is for \(collateral.key.tee) FMSPC \(collateral.key.fmspcHex), not "
                    + "\(key.tee) FMSPC \(key.fmspcHex)")
        }
        guard collateral.key.ca == key.ca else {
            throw PCSError(
                .badResponse,
                "GET \(pckCRL.url): the CRL is the PCK \(collateral.key.ca.rawValue) CA's, not the \(key.ca.rawValue) "
                    + "CA's")
        }
        return collateral
    }

    /// The root CA CRL (DER), as dcap-qvl finds it: a PCCS's `rootcacrl` (hex) unless this is Intel's PCS or the
    /// PCCS does not answer it, else the CRL distribution point of the root ending the QE identity's issuer chain.
    private func rootCACRL(
        qeIdentityIssuerChain chain: IssuerChain, issuerChainURL: String, _ client: HTTPClient
    ) async throws(PCSError) -> [UInt8] {
        if !baseURL.hasPrefix(Self.intelPCSURL), let answer = try? await get(url("sgx", "rootcacrl"), client) {
            guard let der = hexDecoded(String(decoding: answer.body, as: UTF8.self)) else {
                throw PCSError(.badResponse, "GET \(answer.url): the body is not a CRL in hex, as a PCCS serves it")
            }
            try answer.crl(der)
            return der
        }
        guard let root = chain.certificates.last, let point = root.crlDistributionPoints.first else {
            throw PCSError(
                .badResponse,
                "GET \(issuerChainURL): the root of header SGX-Enclave-Identity-Issuer-Chain names no CRL distribution "
                    + "point, where its CRL is published")
        }
        try Self.checkHTTP(point, "the CRL distribution point of \(root.description)")
        let answer = try await get(point, client)
        try answer.crl(answer.body)
        return answer.body
    }

    private func url(_ tee: String, _ path: String) -> String {
        "\(baseURL)/\(tee)/certification/v4/\(path)"
    }

    /// A 2xx answer to `GET url`, whole, within the size and time bounds.
    private func get(_ url: String, _ client: HTTPClient) async throws(PCSError) -> Answer {
        do {
            return Answer(try await http.get(url, client))
        } catch {
            throw PCSError(error.kind == .unavailable ? .unavailable : .badResponse, error.message)
        }
    }

    /// Refuses `url` unless it is an absolute http or https URL with a host (`what` names it).
    static func checkHTTP(_ url: String, _ what: String) throws(PCSError) {
        guard CollateralHTTP.isHTTP(url) else {
            throw PCSError(.badURL, "\(what) \(url) is not an absolute http or https URL")
        }
    }
}

/// A PEM certificate chain from a header, as received (decoded) and as read.
struct IssuerChain {
    let pem: String
    let certificates: [X509Certificate]
}

/// A 2xx answer: its URL, headers and body.
private struct Answer: Sendable {
    let url: String
    let headers: HTTPHeaders
    let body: [UInt8]

    init(_ answer: CollateralHTTP.Answer) {
        url = answer.url
        headers = answer.headers
        body = answer.body
    }

    /// The certificate chain in header `name` (else `fallback`), URL-encoded PEM as the PCS sends it.
    func issuerChain(_ name: String, or fallback: String? = nil) throws(PCSError) -> IssuerChain {
        let names = [name] + (fallback.map { [$0] } ?? [])
        guard let header = names.first(where: { headers.first(name: $0) != nil }),
            let value = headers.first(name: header)
        else {
            throw PCSError(.badResponse, "GET \(url): header \(names.joined(separator: " or ")) is missing")
        }
        guard let pem = percentDecoded(value), let certificates = try? X509Certificate.certificates(fromPEM: pem),
            !certificates.isEmpty
        else {
            throw PCSError(.badResponse, "GET \(url): header \(header) is not a URL-encoded PEM certificate chain")
        }
        return IssuerChain(pem: pem, certificates: certificates)
    }

    /// Refuses `der` unless it is one DER CRL.
    func crl(_ der: [UInt8]) throws(PCSError) {
        guard (try? CertificateRevocationList(derRepresentation: der)) != nil else {
            throw PCSError(.badResponse, "GET \(url): the body is not a DER CRL")
        }
    }
}

/// `text` with each `%XX` replaced by its byte, as UTF-8; nil when an escape is malformed or the bytes are not UTF-8.
func percentDecoded(_ text: String) -> String? {
    var bytes: [UInt8] = []
    var input = Array(text.utf8)[...]
    while let byte = input.popFirst() {
        guard byte == UInt8(ascii: "%") else {
            bytes.append(byte)
            continue
        }
        guard input.count >= 2, let value = hexDecoded(String(decoding: input.prefix(2), as: UTF8.self)) else {
            return nil
        }
        bytes += value
        input = input.dropFirst(2)
    }
    return String(validating: bytes, as: UTF8.self)
}
